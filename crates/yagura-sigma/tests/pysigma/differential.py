#!/usr/bin/env python3
"""pySigma side of the differential test (run by tests/differential.rs).

Input directory (written by the Rust test):
  events.jsonl    one flat JSON object per event (EventData names, EventID, Channel, ...)
  rules.json      [{"id": ..., "path": ..., "eligible": [event indices]}]  (the events whose
                  log source the rule covers, from yagura's log-source map)
Output: matches.json  {"converted": [rule ids], "failed": {rule id: reason},
                       "matches": [[rule id, event index], ...]}

Events are flattened into one SQLite table; pySigma's SQLite backend converts each rule to a
query; a `regexp` function is registered for the `|re` modifier.
"""
import json
import re
import sqlite3
import sys
from pathlib import Path

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection


def regexp(pattern, value):
    if value is None:
        return False
    try:
        return re.search(pattern, str(value)) is not None
    except re.error:
        return False


def main(workdir):
    work = Path(workdir)
    events = [json.loads(l) for l in (work / "events.jsonl").read_text().splitlines() if l]
    rules = json.loads((work / "rules.json").read_text())
    # SQLite column names are case-insensitive: one column per name, ignoring case.
    canon = {}
    for e in events:
        for k in e:
            canon.setdefault(k.lower(), k)
    events = [{canon[k.lower()]: v for k, v in e.items()} for e in events]
    columns = sorted(canon.values())
    db = sqlite3.connect(":memory:")
    db.create_function("regexp", 2, regexp, deterministic=True)
    cols = ", ".join(f'"{c}"' for c in columns)
    # Sigma string matching is case-insensitive: NOCASE makes `=` so (LIKE already is).
    decl = ", ".join(f'"{c}" COLLATE NOCASE' for c in columns)
    db.execute(f'CREATE TABLE logs (row_id INTEGER, {decl})')
    for i, e in enumerate(events):
        vals = [i] + [e.get(c) for c in columns]
        marks = ", ".join("?" for _ in vals)
        db.execute(f'INSERT INTO logs (row_id, {cols}) VALUES ({marks})', vals)
    backend = sqliteBackend()
    converted, failed, matches = [], {}, []
    for r in rules:
        try:
            coll = SigmaCollection.from_yaml(Path(r["path"]).read_text())
            queries = backend.convert(coll)
        except Exception as exc:  # conversion failure: reported, not compared
            failed[r["id"]] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        if len(queries) != 1:
            failed[r["id"]] = f"{len(queries)} queries"
            continue
        q = queries[0].replace("SELECT *", "SELECT row_id", 1)
        rows, error = None, None
        for _ in range(64):
            try:
                rows = {row[0] for row in db.execute(q)}
                break
            except sqlite3.OperationalError as exc:
                m = re.match(r"no such column: (.+)$", str(exc))
                if not m:
                    error = f"sqlite: {exc}"
                    break
                # A field no event has: add it as an all-NULL column and run again.
                col = m.group(1).strip('"')
                db.execute(f'ALTER TABLE logs ADD COLUMN "{col}" COLLATE NOCASE')
        if rows is None:
            failed[r["id"]] = error or "sqlite: too many unknown columns"
            continue
        eligible = set(r["eligible"])
        converted.append(r["id"])
        matches.extend([r["id"], i] for i in sorted(rows & eligible))
    (work / "matches.json").write_text(
        json.dumps({"converted": converted, "failed": failed, "matches": matches})
    )
    print(f"pysigma: {len(converted)} rules converted, {len(failed)} failed, {len(matches)} matches")


if __name__ == "__main__":
    main(sys.argv[1])

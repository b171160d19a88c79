#!/usr/bin/env python3
"""Compressed size of one organization-day of ECS JSON lines in candidate stored forms.

Usage: stored_forms.py EVENTS.jsonl RAW_FILE...

EVENTS.jsonl: `yagura parse` output of the RAW_FILEs (e.g. one organization of
`yagura sim --days 1`). Prints bytes per event of gzip -6 of the raw files (the issue's
yardstick), of the JSON compressed in 128 KiB blocks as the split doc store does (zstd -3 and
-9), and of the events as columns (one per flattened ECS key; `log.file.line` left out as
derivable from the row order), each in time order and ordered by dataset, source.ip, time.
Needs the `zstd` and `gzip` command-line tools. A measurement aid, not used at run time.
"""
import json
import subprocess
import sys

BLOCK = 128 << 10


def zstd(data: bytes, level: int) -> int:
    return len(subprocess.run(["zstd", "-q", "-c", f"-{level}"], input=data,
                              capture_output=True, check=True).stdout)


def blocks(lines, level):
    total, buf = 0, bytearray()
    for line in lines:
        buf += line + b"\n"
        if len(buf) >= BLOCK:
            total += zstd(bytes(buf), level)
            buf = bytearray()
    return total + (zstd(bytes(buf), level) if buf else 0)


def flat(d, pre=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from flat(v, pre + k + ".")
        else:
            yield pre + k, json.dumps(v)


def columns(rows, level):
    keys = sorted({k for r in rows for k in r})
    return sum(zstd("\n".join(r.get(k, "") for r in rows).encode(), level) for k in keys)


def main():
    lines = open(sys.argv[1], "rb").read().splitlines()
    n = len(lines)
    raw = b"".join(open(p, "rb").read() for p in sys.argv[2:])
    gz = len(subprocess.run(["gzip", "-6", "-c"], input=raw, capture_output=True,
                            check=True).stdout)
    print(f"{n} events; raw logs gzip -6: {gz / n:.1f} B/event")
    docs = [json.loads(line) for line in lines]
    by_time = sorted(range(n), key=lambda i: docs[i].get("@timestamp", ""))

    def entity(i):
        d = docs[i]
        return (d.get("event", {}).get("dataset", ""), d.get("source", {}).get("ip", ""),
                d.get("@timestamp", ""))

    by_entity = sorted(range(n), key=entity)
    for d in docs:
        d.get("log", {}).get("file", {}).pop("line", None)
    rows = [dict(flat(d)) for d in docs]
    for name, order in (("time", by_time), ("dataset+source.ip+time", by_entity)):
        for level in (3, 9):
            b = blocks((lines[i] for i in order), level)
            c = columns([rows[i] for i in order], level)
            print(f"{name:>24} zstd -{level}: JSON in 128 KiB blocks {b / n:.1f} B/event, "
                  f"columns {c / n:.1f} B/event")


if __name__ == "__main__":
    main()

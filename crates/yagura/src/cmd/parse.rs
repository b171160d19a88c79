//! `yagura parse [--format F] [--rejects FILE] PATH…` (DESIGN.md §5): normalized events as
//! JSON lines on stdout (or `--output`), rejects as JSON lines in `--rejects FILE`, a summary
//! (files, events, rejects, events/s) on stderr.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use yagura_formats::{FileReader, Format, OpenError, ReadOptions, Reject};
use yagura_model::OrgId;

use crate::Globals;
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Files or telemetry directories (`ROOT/<org-id>/**`; the org comes from the first
    /// directory under ROOT). `.gz` and `.zst` are read transparently.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Force a format instead of detecting it per file: squid, squid-common, w3c, zeek-tsv,
    /// zeek-json, suricata, evtx, evtx-json, winlogbeat, syslog, cef, mailgw, postfix, ecs.
    #[arg(long, value_parser = parse_format)]
    pub format: Option<Format>,
    /// Write rejected records (file, line, reason, excerpt) here as JSON lines.
    #[arg(long)]
    pub rejects: Option<PathBuf>,
    /// Write events here instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Set organization.id on every event (wins over the directory layout).
    #[arg(long)]
    pub org: Option<OrgId>,
    /// Telemetry root for files given one by one (directories given as PATH are their own
    /// root).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Cap on one decompressed line, in bytes; longer lines are rejected.
    #[arg(long, default_value_t = yagura_formats::DEFAULT_MAX_LINE)]
    pub max_line: usize,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse::<Format>().map_err(|e| e.to_string())
}

/// Every regular file under `dir`, sorted, hidden entries skipped.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading directory {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

pub fn run(args: ParseArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    // (file, telemetry root for it)
    let mut files: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    for p in &args.paths {
        let meta = std::fs::metadata(p).with_context(|| format!("reading {}", p.display()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found)?;
            let root = args.root.clone().unwrap_or_else(|| p.clone());
            files.extend(found.into_iter().map(|f| (f, Some(root.clone()))));
        } else {
            files.push((p.clone(), args.root.clone()));
        }
    }

    let stdout = std::io::stdout();
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::with_capacity(
            1 << 16,
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 16, stdout.lock())),
    };
    let mut rejects_out = match &args.rejects {
        Some(path) => Some(BufWriter::new(
            File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };

    let progress = Progress::spinner("parsing", globals.quiet);
    let start = Instant::now();
    let (mut events, mut rejects, mut unreadable) = (0u64, 0u64, 0u64);
    let mut shown = 0usize;
    let mut report =
        |r: &Reject, rejects_out: &mut Option<BufWriter<File>>| -> anyhow::Result<()> {
            match rejects_out {
                Some(w) => {
                    serde_json::to_writer(&mut *w, r)?;
                    w.write_all(b"\n")?;
                }
                None => {
                    if shown < 10 {
                        progress.println(format!("reject: {r}"));
                    }
                    shown += 1;
                }
            }
            Ok(())
        };
    for (file, root) in &files {
        let opts = ReadOptions {
            format: args.format,
            org: args.org.clone(),
            root: root.clone(),
            max_line: args.max_line,
            ..ReadOptions::default()
        };
        progress.set_message(format!("parsing {}", file.display()));
        let reader = match FileReader::open(file, &opts) {
            Ok(r) => r,
            Err(e @ (OpenError::Unrecognized { .. } | OpenError::Io { .. })) => {
                unreadable += 1;
                rejects += 1;
                let r = Reject::new(&file.display().to_string(), 0, e.to_string(), b"");
                report(&r, &mut rejects_out)?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for rec in reader {
            match rec {
                Ok(ev) => {
                    serde_json::to_writer(&mut out, &ev).context("writing events")?;
                    out.write_all(b"\n").context("writing events")?;
                    events += 1;
                    if events % 4096 == 0 {
                        progress.inc(4096);
                    }
                }
                Err(r) => {
                    rejects += 1;
                    report(&r, &mut rejects_out)?;
                }
            }
        }
    }
    out.flush().context("writing events")?;
    if let Some(w) = rejects_out.as_mut() {
        w.flush().context("writing rejects")?;
    }
    progress.finish();
    let secs = start.elapsed().as_secs_f64();
    if args.rejects.is_none() && shown > 10 {
        eprintln!(
            "… {} more rejects (use --rejects FILE to keep them all)",
            shown - 10
        );
    }
    eprintln!(
        "parsed {} files: {events} events, {rejects} rejects ({unreadable} files unrecognized or unreadable), {:.0} events/s in {secs:.2} s",
        files.len(),
        events as f64 / secs.max(1e-9),
    );
    Ok(ExitCode::SUCCESS)
}

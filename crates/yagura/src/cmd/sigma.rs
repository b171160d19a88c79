//! `yagura sigma check [--json] [--logsources FILE]… [--with-builtin-rules] DIR…`
//! (DESIGN.md §5): load Sigma rules the way `yagura detect` does and report, per rule not
//! loaded, why; the closing line is `loaded N, unsupported M, invalid K`, followed by the count
//! of every reason class. Exit 0 when no rule is invalid, 2 otherwise.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use yagura_sigma::{LoadOptions, LoadStatus, LogSourceMap, RuleSet};

use crate::Globals;
use crate::progress::Progress;

#[derive(Debug, Subcommand)]
pub enum SigmaCommand {
    /// Load Sigma rules and report, for each rule not loaded, the reason (unsupported log
    /// source, reference to a missing rule, invalid YAML/condition/modifier, …).
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rule directories (searched recursively for .yml/.yaml) or files. With none, the rules
    /// built into yagura are checked.
    pub dirs: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Additional log-source map (THOR-style YAML, e.g. SigmaHQ's tests/thor.yml), merged into
    /// the built-in one.
    #[arg(long = "logsources", value_name = "FILE")]
    pub logsources: Vec<PathBuf>,
    /// Check the built-in rules together with DIRs.
    #[arg(long)]
    pub with_builtin_rules: bool,
    /// Also load rules whose status is `deprecated` or `unsupported`.
    #[arg(long)]
    pub include_deprecated: bool,
}

pub fn run(cmd: SigmaCommand, globals: &Globals) -> anyhow::Result<ExitCode> {
    match cmd {
        SigmaCommand::Check(args) => check(&args, globals),
    }
}

/// The log-source map: built-in plus `--logsources` files.
pub fn logsource_map(files: &[PathBuf]) -> anyhow::Result<LogSourceMap> {
    let mut map = LogSourceMap::builtin();
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        map.merge(&text)
            .with_context(|| format!("log-source map {}", f.display()))?;
    }
    Ok(map)
}

fn check(args: &CheckArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let progress = Progress::spinner("loading Sigma rules", globals.quiet);
    let opts = LoadOptions {
        builtin: args.dirs.is_empty() || args.with_builtin_rules,
        logsources: logsource_map(&args.logsources)?,
        include_deprecated: args.include_deprecated,
    };
    let set = RuleSet::load_with(&args.dirs, opts).context("loading Sigma rules")?;
    progress.finish();
    let report = set.report();
    if args.json {
        let summary = yagura_sigma::check::summary(report);
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", yagura_sigma::check::render_text(report));
    }
    Ok(if report.count(LoadStatus::Invalid) == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

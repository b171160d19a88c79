//! `yagura exercise score --truth FILE --alerts FILE`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use yagura_model::Alert;
use yagura_sim::TruthItem;
use yagura_sim::score::{read_jsonl, score};

use crate::Globals;

#[derive(Debug, Subcommand)]
pub enum ExerciseCommand {
    /// Grade alerts against an exercise's ground truth (DESIGN.md §4's rule). Prints the
    /// score as JSON on stdout and a readable table on stderr.
    Score(ScoreArgs),
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The exercise's truth.jsonl.
    #[arg(long)]
    pub truth: PathBuf,
    /// Alerts as JSON lines (`yagura detect` output).
    #[arg(long)]
    pub alerts: PathBuf,
    /// Omit the per-item and per-false-positive details from the JSON.
    #[arg(long)]
    pub brief: bool,
}

pub fn run(cmd: ExerciseCommand, globals: &Globals) -> anyhow::Result<ExitCode> {
    match cmd {
        ExerciseCommand::Score(a) => run_score(&a, globals),
    }
}

fn run_score(args: &ScoreArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
    };
    let truth: Vec<TruthItem> = read_jsonl(&args.truth.display().to_string(), &read(&args.truth)?)?;
    let alerts: Vec<Alert> = read_jsonl(&args.alerts.display().to_string(), &read(&args.alerts)?)?;
    let s = score(&truth, &alerts);
    let mut v = serde_json::to_value(&s)?;
    if args.brief
        && let Some(o) = v.as_object_mut()
    {
        o.remove("items");
        o.remove("false_positive_list");
    }
    println!("{}", serde_json::to_string_pretty(&v)?);
    if !globals.quiet {
        eprint!("{}", s.table());
    }
    Ok(ExitCode::SUCCESS)
}

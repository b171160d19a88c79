//! Subcommands. Only commands that work are listed; each issue adds its own.

use std::process::ExitCode;

use clap::Subcommand;

use crate::Globals;

pub mod analytics;
pub mod demo;
pub mod detect;
pub mod exercise;
pub mod hunt;
pub mod ingest;
pub mod intel;
pub mod inventory;
pub mod parse;
pub mod serve;
pub mod sigma;
pub mod sim;
pub mod store;
pub mod stream;

/// In the order a newcomer meets them: make an estate, detect on it, grade the result; then
/// the tools for each part.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The whole platform in one command: simulate an estate, detect, load the alerts and
    /// serve the console with a center analyst's and an organization officer's login.
    Demo(demo::DemoArgs),
    /// Simulate a monitored estate: inventory, logs of every organization, intel feeds and
    /// the ground truth of the injected campaigns.
    Sim(sim::SimArgs),
    /// Batch detection over files or telemetry directories; alerts as JSON lines.
    Detect(detect::DetectArgs),
    /// Store telemetry files durably in the event store (`<data-dir>/events/`) for hunting.
    Ingest(ingest::IngestArgs),
    /// Search the stored events for indicators (and field filters, a time range, an
    /// organization scope); matching events as JSON lines, counts per organization.
    Hunt(hunt::HuntArgs),
    /// Event store maintenance: retention by age and size per organization.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Exercises on a simulated estate (scoring detection against the ground truth).
    #[command(subcommand)]
    Exercise(exercise::ExerciseCommand),
    /// Read telemetry files (any supported format, detected per file) and print normalized
    /// ECS events as JSON lines.
    Parse(parse::ParseArgs),
    /// Threat intelligence: import indicator feeds, export STIX 2.1 / MISP, statistics.
    #[command(subcommand)]
    Intel(intel::IntelCommand),
    /// Sigma rules: check that they load (and why not, per rule).
    #[command(subcommand)]
    Sigma(sigma::SigmaCommand),
    /// Behavioural analytics and network policy: show or check their configuration, or run
    /// them over ECS JSON lines.
    #[command(subcommand)]
    Analytics(analytics::AnalyticsCommand),
    /// Check and show an inventory (organizations, supervision tree, networks).
    #[command(subcommand)]
    Inventory(inventory::InventoryCommand),
    /// Serve the REST API (JSON under /api/v1, OpenAPI at /api/openapi.json).
    Serve(serve::ServeArgs),
}

pub fn run(command: Command, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        Command::Demo(a) => demo::run(a, globals),
        Command::Sim(a) => sim::run(&a, globals),
        Command::Detect(a) => detect::run(a, globals),
        Command::Ingest(a) => ingest::run(a, globals),
        Command::Hunt(a) => hunt::run(a, globals),
        Command::Store(c) => store::run(c, globals),
        Command::Exercise(c) => exercise::run(c, globals),
        Command::Parse(a) => parse::run(a, globals),
        Command::Intel(c) => intel::run(c, globals),
        Command::Sigma(c) => sigma::run(c, globals),
        Command::Analytics(c) => analytics::run(c, globals),
        Command::Inventory(c) => inventory::run(c, globals),
        Command::Serve(a) => serve::run(a, globals),
    }
}

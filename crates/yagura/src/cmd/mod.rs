//! Subcommands. Only commands that work are listed; each issue adds its own.

use std::process::ExitCode;

use clap::Subcommand;

use crate::Globals;

pub mod hunt;
pub mod inventory;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check and show an inventory (organizations, supervision tree, networks).
    #[command(subcommand)]
    Inventory(inventory::InventoryCommand),
    /// Search stored events for indicators (domains with subdomains, IPs, URLs, hashes,
    /// e-mail addresses, users), field filters and a time range, within an organization scope:
    /// matching events as JSON lines on stdout, counts per organization on stderr.
    Hunt(hunt::HuntArgs),
    /// The event store: ingest ECS JSON lines, flush, compact, retention, figures.
    #[command(subcommand)]
    Events(hunt::EventsCommand),
}

pub fn run(command: Command, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        Command::Inventory(c) => inventory::run(c, globals),
        Command::Hunt(a) => hunt::hunt(a, globals),
        Command::Events(c) => hunt::events(c, globals),
    }
}

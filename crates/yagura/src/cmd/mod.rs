//! Subcommands. Only commands that work are listed; each issue adds its own.

use std::process::ExitCode;

use clap::Subcommand;

use crate::Globals;

pub mod detect;
pub mod inventory;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Batch detection over files or telemetry directories; alerts as JSON lines.
    Detect(detect::DetectArgs),
    /// Check and show an inventory (organizations, supervision tree, networks).
    #[command(subcommand)]
    Inventory(inventory::InventoryCommand),
}

pub fn run(command: Command, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        Command::Detect(a) => detect::run(a, globals),
        Command::Inventory(c) => inventory::run(c, globals),
    }
}

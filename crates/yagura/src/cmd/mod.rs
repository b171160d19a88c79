//! Subcommands. Only commands that work are listed; each issue adds its own.

use std::process::ExitCode;

use clap::Subcommand;

use crate::Globals;

pub mod intel;
pub mod inventory;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check and show an inventory (organizations, supervision tree, networks).
    #[command(subcommand)]
    Inventory(inventory::InventoryCommand),
    /// Threat intelligence: import indicator feeds, export STIX 2.1 / MISP, statistics.
    #[command(subcommand)]
    Intel(intel::IntelCommand),
}

pub fn run(command: Command, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        Command::Inventory(c) => inventory::run(c, globals),
        Command::Intel(c) => intel::run(c, globals),
    }
}

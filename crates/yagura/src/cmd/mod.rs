//! Subcommands. Only commands that work are listed; each issue adds its own.

use std::process::ExitCode;

use clap::Subcommand;

use crate::Globals;

pub mod inventory;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check and show an inventory (organizations, supervision tree, networks).
    #[command(subcommand)]
    Inventory(inventory::InventoryCommand),
}

pub fn run(command: Command, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        Command::Inventory(c) => inventory::run(c, globals),
    }
}

//! Subcommands. Only commands that work are listed; each issue adds its own.

use std::process::ExitCode;

use clap::Subcommand;

use crate::Globals;

pub mod inventory;
pub mod serve;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check and show an inventory (organizations, supervision tree, networks).
    #[command(subcommand)]
    Inventory(inventory::InventoryCommand),
    /// Serve the REST API (JSON under /api/v1, OpenAPI at /api/openapi.json).
    Serve(serve::ServeArgs),
}

pub fn run(command: Command, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        Command::Inventory(c) => inventory::run(c, globals),
        Command::Serve(a) => serve::run(a, globals),
    }
}

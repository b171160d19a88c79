//! Subcommands. Only commands that work are listed; each issue adds its own.

use std::process::ExitCode;

use clap::Subcommand;

use crate::Globals;

pub mod exercise;
pub mod inventory;
pub mod sim;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check and show an inventory (organizations, supervision tree, networks).
    #[command(subcommand)]
    Inventory(inventory::InventoryCommand),
    /// Simulate a monitored estate: inventory, logs of every organization, intel feeds and
    /// the ground truth of the injected campaigns.
    Sim(sim::SimArgs),
    /// Exercises on a simulated estate (scoring detection against the ground truth).
    #[command(subcommand)]
    Exercise(exercise::ExerciseCommand),
}

pub fn run(command: Command, globals: &Globals) -> anyhow::Result<ExitCode> {
    match command {
        Command::Inventory(c) => inventory::run(c, globals),
        Command::Sim(a) => sim::run(&a, globals),
        Command::Exercise(c) => exercise::run(c, globals),
    }
}

//! `yagura inventory check FILE`

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use yagura_model::{Inventory, InventoryError, Organization};

use crate::Globals;

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Validate an inventory.toml: exit 0 and print the supervision tree when valid; exit 2
    /// and list every problem (organization and field) when not.
    Check(CheckArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The inventory file (DESIGN.md §4).
    pub file: PathBuf,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: InventoryCommand, _globals: &Globals) -> anyhow::Result<ExitCode> {
    match cmd {
        InventoryCommand::Check(args) => check(&args),
    }
}

fn check(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    match Inventory::from_toml(&text) {
        Ok(inv) => {
            if args.json {
                let out = serde_json::json!({
                    "valid": true,
                    "organizations": inv.len(),
                    "orgs": inv.orgs(),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print!("{}", render_tree(&inv));
                let kinds: Vec<String> = inv
                    .count_by_kind()
                    .iter()
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect();
                println!(
                    "{}: valid, {} organizations ({})",
                    args.file.display(),
                    inv.len(),
                    kinds.join(", ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(InventoryError::Invalid(problems)) => {
            if args.json {
                let list: Vec<_> = problems
                    .iter()
                    .map(|p| serde_json::json!({"org": p.org, "field": p.field, "message": p.message}))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"valid": false, "problems": list})
                    )?
                );
            } else {
                eprintln!("{}: {} problem(s)", args.file.display(), problems.len());
                for p in &problems {
                    eprintln!("  org {}: {}: {}", p.org, p.field, p.message);
                }
            }
            Ok(ExitCode::from(2))
        }
        Err(e @ InventoryError::Syntax(_)) => {
            eprintln!("{}: {e}", args.file.display());
            Ok(ExitCode::from(2))
        }
    }
}

fn render_tree(inv: &Inventory) -> String {
    fn node(
        inv: &Inventory,
        o: &Organization,
        prefix: &str,
        last: bool,
        root: bool,
        out: &mut String,
    ) {
        let branch = if root {
            ""
        } else if last {
            "└─ "
        } else {
            "├─ "
        };
        let mut line = format!("{prefix}{branch}{} [{}] {}", o.id, o.kind, o.name);
        if let Some(s) = o.sector {
            line.push_str(&format!(" ({s})"));
        }
        let nets: Vec<String> = o
            .internal_networks
            .iter()
            .map(ToString::to_string)
            .collect();
        if !nets.is_empty() {
            line.push_str(&format!("  nets: {}", nets.join(", ")));
        }
        if !o.isolated_networks.is_empty() {
            let iso: Vec<String> = o
                .isolated_networks
                .iter()
                .map(ToString::to_string)
                .collect();
            line.push_str(&format!("  isolated: {}", iso.join(", ")));
        }
        if !o.egress_gateways.is_empty() {
            let gw: Vec<String> = o.egress_gateways.iter().map(ToString::to_string).collect();
            line.push_str(&format!("  egress: {}", gw.join(", ")));
        }
        out.push_str(&line);
        out.push('\n');
        let children: Vec<_> = inv.children(o.id.as_str()).collect();
        let child_prefix = if root {
            String::new()
        } else {
            format!("{prefix}{}", if last { "   " } else { "│  " })
        };
        for (i, c) in children.iter().enumerate() {
            node(inv, c, &child_prefix, i + 1 == children.len(), false, out);
        }
    }
    let mut out = String::new();
    for root in inv.roots() {
        node(inv, root, "", true, true, &mut out);
    }
    out
}

//! The `saker` binary: flow tooling now (`flow validate`, `flow schema`); `flow test` and
//! `server local` join the same command tree later.

mod catalog;
mod flow_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "saker",
    version,
    about = "A workflow orchestrator that runs Kestra flows"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with flow documents.
    Flow {
        #[command(subcommand)]
        command: FlowCommand,
    },
}

#[derive(Subcommand)]
enum FlowCommand {
    /// Validate flow files (or every *.yml/*.yaml under folders).
    Validate {
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print a JSON array of results instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema (draft-07) of flow documents.
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Flow {
            command: FlowCommand::Validate { paths, json },
        } => flow_cmd::validate(&paths, json),
        Command::Flow {
            command: FlowCommand::Schema,
        } => flow_cmd::schema(),
    }
}

//! The `saker` binary: flow tooling (`flow validate`, `flow schema`), local runs (`flow test`)
//! and the server (`server local`, `server standalone`, `server hash-password`, and the
//! components `server executor|webserver|scheduler|worker`).

mod catalog;
mod component_cmd;
mod config;
mod flow_cmd;
mod queue_cmd;
mod server_cmd;
mod test_cmd;

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
    /// Run the server (Kestra's REST API).
    Server {
        #[command(subcommand)]
        command: ServerCommand,
    },
}

#[derive(Subcommand)]
enum ServerCommand {
    /// Everything in one process, data under ./data of the working directory.
    Local {
        /// The HTTP port.
        #[arg(long, default_value_t = 8080, env = "SAKER_PORT")]
        port: u16,
        /// The address to listen on (loopback by default: `server local` has no authentication;
        /// use `server standalone` with `server.basic-auth` to expose a server).
        #[arg(long, default_value = "127.0.0.1", env = "SAKER_HOST")]
        host: String,
        /// Where data is kept.
        #[arg(long, default_value = "data", env = "SAKER_DATA_DIR")]
        data_dir: PathBuf,
        /// The database of the store: sqlite://PATH or postgres://USER@HOST:PORT/DATABASE
        /// (`?max_connections=N&acquire_timeout=SECONDS` size the pool); default: the SQLite
        /// file saker.db in the data directory.
        #[arg(long, env = "SAKER_DATABASE_URL")]
        database_url: Option<String>,
        /// Largest request body accepted, in bytes (413 beyond).
        #[arg(long, default_value_t = saker_server::DEFAULT_MAX_BODY_BYTES, env = "SAKER_MAX_BODY_SIZE")]
        max_body_size: usize,
        #[command(flatten)]
        queue: queue_cmd::QueueArgs,
    },
    /// A worker: claims task runs from the PostgreSQL job queue and runs them (see
    /// docs/deploy.md). It shares the server's data directory (internal storage, KV store,
    /// encryption key) and environment (secrets).
    Worker {
        /// How many task runs run at once.
        #[arg(long, default_value_t = 4, env = "SAKER_WORKER_THREADS")]
        threads: usize,
        /// PostgreSQL URL of the job queue.
        #[arg(long, env = "SAKER_QUEUE_URL")]
        queue_url: String,
        /// The server's store database (`--database-url` of the server: its KV store); default:
        /// the SQLite file saker.db in the data directory.
        #[arg(long, env = "SAKER_DATABASE_URL")]
        database_url: Option<String>,
        /// The server's data directory.
        #[arg(long, default_value = "data", env = "SAKER_DATA_DIR")]
        data_dir: PathBuf,
        /// Seconds a claimed job stays leased without a heartbeat (heartbeats go every third).
        #[arg(long, default_value_t = 30, env = "SAKER_QUEUE_LEASE")]
        lease: u64,
    },
    /// Everything in one process, configured by a YAML file (Kestra's keys without the
    /// `kestra.` prefix) and SAKER_* environment overrides: see docs/configuration.md.
    Standalone {
        /// The configuration file; without it, the defaults and the environment apply.
        #[arg(
            short = 'c',
            long = "config",
            value_name = "FILE",
            env = "SAKER_CONFIG"
        )]
        config: Option<PathBuf>,
    },
    /// An executor among several on one PostgreSQL database: runs the executions it owns
    /// (claimed from the executors' inbox, taken over from a stopped executor); task runs go
    /// to the job queue (see docs/deploy.md, "Components").
    Executor {
        #[command(flatten)]
        common: component_cmd::ComponentArgs,
        /// Queue worker threads this process runs itself (0: task runs only on
        /// `saker server worker` processes).
        #[arg(long, default_value_t = 0, env = "SAKER_WORKERS")]
        workers: usize,
        /// Seconds an executor owns its executions without renewing them (renewed every
        /// third); after that another executor takes them over. Also the job lease of its
        /// worker threads.
        #[arg(long, default_value_t = 30, env = "SAKER_EXECUTOR_LEASE")]
        lease: u64,
    },
    /// The REST API on a PostgreSQL database shared with executor processes (no executor, no
    /// triggers in this process).
    Webserver {
        #[command(flatten)]
        common: component_cmd::ComponentArgs,
    },
    /// The triggers (schedules, flow triggers) on a PostgreSQL database shared with executor
    /// processes; serves only /ping, /health and /metrics.
    Scheduler {
        #[command(flatten)]
        common: component_cmd::ComponentArgs,
    },
    /// Print the argon2id hash of a password, for `server.basic-auth` (reads the first line of
    /// stdin when no password is given, which keeps it out of the shell history).
    HashPassword { password: Option<String> },
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
    /// Run a flow in-process on a throw-away store: logs on stderr, the execution with --json.
    ///
    /// Secrets come from SECRET_<KEY> (base64, as Kestra) or SAKER_SECRET_<KEY> (plain text)
    /// environment variables; `envs` from KESTRA_<NAME> and SAKER_ENV_<NAME>. SECRET inputs
    /// and outputs are encrypted with SAKER_ENCRYPTION_KEY (base64 AES key) or a random key.
    Test {
        /// The flow file.
        file: PathBuf,
        /// Flow files or folders to load first (subflows, flow triggers).
        #[arg(long = "flows", value_name = "PATH")]
        flows: Vec<PathBuf>,
        /// An execution input: KEY=VALUE, or KEY=@FILE to upload a file.
        #[arg(long = "input", value_name = "KEY=VALUE")]
        inputs: Vec<String>,
        /// An execution label: KEY=VALUE.
        #[arg(long = "label", value_name = "KEY=VALUE")]
        labels: Vec<String>,
        /// Print the final execution as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Task outputs bigger than this (as JSON) are stored in internal storage and replaced
        /// by their kestra:// URI: bytes, or a KB/MB/GB suffix; 0 = no limit.
        #[arg(
            long,
            value_name = "SIZE",
            env = "SAKER_MAX_OUTPUT_SIZE",
            default_value = "1MB",
            value_parser = saker_runtime::parse_size
        )]
        max_output_size: usize,
        /// Enable legacy templates (Kestra's `kestra.templates.enabled`): Template tasks include
        /// the templates found among the --flows documents.
        #[arg(long, env = "SAKER_TEMPLATES_ENABLED")]
        templates: bool,
    },
}

/// Runs `task` on a multi-threaded tokio runtime (one place for the commands that need one).
pub(crate) fn block_on(task: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(task),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// [`block_on`] for a task whose error is a message: printed, exit code 1.
pub(crate) fn block_on_result(
    task: impl std::future::Future<Output = Result<(), String>>,
) -> ExitCode {
    block_on(async {
        match task.await {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        }
    })
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
        Command::Flow {
            command:
                FlowCommand::Test {
                    file,
                    flows,
                    inputs,
                    labels,
                    json,
                    max_output_size,
                    templates,
                },
        } => test_cmd::test(test_cmd::TestArgs {
            file,
            flows,
            inputs,
            labels,
            json,
            max_output_size,
            templates,
        }),
        Command::Server {
            command:
                ServerCommand::Executor {
                    common,
                    workers,
                    lease,
                },
        } => component_cmd::run(
            component_cmd::Component::Executor { workers, lease },
            common,
        ),
        Command::Server {
            command: ServerCommand::Webserver { common },
        } => component_cmd::run(component_cmd::Component::Webserver, common),
        Command::Server {
            command: ServerCommand::Scheduler { common },
        } => component_cmd::run(component_cmd::Component::Scheduler, common),
        Command::Server {
            command:
                ServerCommand::Local {
                    port,
                    host,
                    data_dir,
                    database_url,
                    max_body_size,
                    queue,
                },
        } => server_cmd::local(server_cmd::LocalArgs {
            port,
            host,
            data_dir,
            database_url,
            max_body_bytes: max_body_size,
            queue,
        }),
        Command::Server {
            command:
                ServerCommand::Worker {
                    threads,
                    queue_url,
                    database_url,
                    data_dir,
                    lease,
                },
        } => queue_cmd::worker(queue_cmd::WorkerArgs {
            threads,
            queue_url,
            store_url: database_url,
            data_dir,
            lease,
        }),
        Command::Server {
            command: ServerCommand::Standalone { config },
        } => server_cmd::standalone(config),
        Command::Server {
            command: ServerCommand::HashPassword { password },
        } => server_cmd::hash_password(password),
    }
}

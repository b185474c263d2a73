//! Remote workers: `saker server worker` (a process that claims and runs jobs of the
//! PostgreSQL queue) and the queue options of `server local` (`--queue-url`: attempts go to
//! the queue instead of running in the server; `--workers N`: the server also runs N queue
//! worker threads itself).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use saker_queue_pg::PgQueue;
use saker_runtime::Runtime;
use saker_runtime::host::Secrets;
use saker_runtime::queue::{JobQueue, WorkerConfig};
use saker_storage::{LocalStorage, Store};
use tokio_util::sync::CancellationToken;

/// The queue options shared by the server commands.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct QueueArgs {
    /// PostgreSQL URL of the worker job queue: task runs are queued there for
    /// `saker server worker` processes instead of running in this process.
    #[arg(long, env = "SAKER_QUEUE_URL")]
    pub queue_url: Option<String>,
    /// With --queue-url: how many queue worker threads this process runs itself (0: none,
    /// every task run goes to worker processes).
    #[arg(
        long,
        default_value_t = 0,
        env = "SAKER_WORKERS",
        requires = "queue_url"
    )]
    pub workers: usize,
    /// Seconds a claimed job stays leased without a heartbeat (heartbeats go every third).
    #[arg(long, default_value_t = 30, env = "SAKER_QUEUE_LEASE")]
    pub lease: u64,
}

/// The arguments of `saker server worker`.
pub(crate) struct WorkerArgs {
    pub threads: usize,
    /// The job queue's PostgreSQL database.
    pub queue_url: String,
    /// The store's database (KV store, logs read by tasks); `None`: SQLite in the data dir.
    pub store_url: Option<String>,
    pub data_dir: PathBuf,
    pub lease: u64,
}

fn lease_of(seconds: u64) -> Duration {
    Duration::from_secs(seconds.max(1))
}

/// Sends `rt`'s attempts to the queue of `args` (when one is configured) and starts the
/// in-process queue workers asked for; returns the runtime and a token stopping them.
pub(crate) async fn attach<S: Store>(
    rt: Runtime<S>,
    args: &QueueArgs,
) -> Result<(Runtime<S>, CancellationToken), String> {
    let stop = CancellationToken::new();
    let Some(url) = &args.queue_url else {
        return Ok((rt, stop));
    };
    let queue: Arc<dyn JobQueue> = Arc::new(
        PgQueue::connect(url, 8 + args.workers as u32)
            .await
            .map_err(|e| e.to_string())?,
    );
    let rt = rt.with_queue(queue.clone());
    if args.workers > 0 {
        let mut config = WorkerConfig::new(args.workers);
        config.lease = lease_of(args.lease);
        tokio::spawn(saker_runtime::queue::run_worker(
            rt.clone(),
            queue,
            config,
            stop.clone(),
        ));
    }
    Ok((rt, stop))
}

pub(crate) fn worker(args: WorkerArgs) -> ExitCode {
    crate::block_on_result(run(args))
}

async fn run(args: WorkerArgs) -> Result<(), String> {
    // The worker shares the server's configuration: the same internal storage, KV store and
    // encryption key (the data directory), the same secrets (environment).
    let storage_dir = args.data_dir.join("storage");
    std::fs::create_dir_all(&storage_dir)
        .map_err(|e| format!("cannot create {}: {e}", storage_dir.display()))?;
    let (store, kv) =
        crate::server_cmd::open_stores(&args.data_dir, args.store_url.as_deref()).await?;
    let (secrets, warnings) = Secrets::from_env();
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let rt = Runtime::new(store, Arc::new(LocalStorage::new(&storage_dir)), kv)
        .with_secrets(secrets)
        .with_encryption_key(crate::server_cmd::encryption_key(
            std::env::var("SAKER_ENCRYPTION_KEY").ok(),
            &args.data_dir,
        )?)
        .with_envs(saker_runtime::envs_from_vars(std::env::vars()));
    let threads = args.threads.max(1);
    let queue: Arc<dyn JobQueue> = Arc::new(
        PgQueue::connect(&args.queue_url, 4 + threads as u32)
            .await
            .map_err(|e| e.to_string())?,
    );
    let mut config = WorkerConfig::new(threads);
    config.lease = lease_of(args.lease);
    let stop = CancellationToken::new();
    let signal = stop.clone();
    tokio::spawn(async move {
        crate::server_cmd::shutdown_signal().await;
        eprintln!("stopping: finishing the running task runs");
        signal.cancel();
    });
    eprintln!(
        "Saker worker {} started ({threads} threads, lease {}s)",
        config.id,
        config.lease.as_secs()
    );
    saker_runtime::queue::run_worker(rt, queue, config, stop)
        .await
        .map_err(|e| e.to_string())?;
    eprintln!("Saker worker stopped");
    Ok(())
}

//! `saker server local`: everything in one process, data under `./data` of the working
//! directory (as Kestra's `server local`): internal storage in `./data/storage`, the store
//! (flows, executions, logs, triggers) and the KV store in the SQLite file `./data/saker.db`,
//! or in the database of `--database-url` (`sqlite://PATH`, `postgres://…`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use saker_runtime::Runtime;
use saker_runtime::host::Secrets;
use saker_runtime::service::Service;
use saker_server::{App, ServerConfig};
use saker_storage::LocalStorage;
use saker_store_sql::{SqlStore, SqliteStore};
use saker_task::KvStore;

/// The arguments of `saker server local`.
pub(crate) struct LocalArgs {
    pub port: u16,
    pub host: String,
    pub data_dir: PathBuf,
    /// The store's database; `None` is the SQLite file `saker.db` of the data directory.
    pub database_url: Option<String>,
    pub max_body_bytes: usize,
    pub queue: crate::queue_cmd::QueueArgs,
}

/// The variable holding the AES key of SECRET inputs/outputs (base64 of 16 or 32 bytes).
const ENCRYPTION_KEY_VAR: &str = "SAKER_ENCRYPTION_KEY";

/// The stores of a server, built in one place: one database holds the store and the KV store
/// (by default the SQLite file `saker.db` of the data directory), so a restart on the same data
/// finds everything again.
pub(crate) async fn open_stores(
    data_dir: &Path,
    database_url: Option<&str>,
) -> Result<(Arc<SqlStore>, Arc<dyn KvStore>), String> {
    let store = match database_url {
        Some(url) => saker_store_sql::open(url).await,
        None => SqliteStore::open(data_dir.join("saker.db"))
            .await
            .map(|store| Arc::new(SqlStore::Sqlite(store))),
    }
    .map_err(|e| e.to_string())?;
    let kv: Arc<dyn KvStore> = store.clone();
    Ok((store, kv))
}

/// The configured key, else one kept in the data directory so encrypted values stay readable
/// across restarts.
pub(crate) fn encryption_key(data_dir: &Path) -> Result<String, String> {
    if let Ok(key) = std::env::var(ENCRYPTION_KEY_VAR) {
        saker_expr::crypto::key_bytes(&key).map_err(|e| format!("{ENCRYPTION_KEY_VAR}: {e}"))?;
        return Ok(key);
    }
    let path = data_dir.join("encryption.key");
    match std::fs::read_to_string(&path) {
        Ok(key) => Ok(key.trim().to_owned()),
        Err(_) => {
            let key = saker_expr::crypto::generate_key();
            std::fs::write(&path, &key)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(key)
        }
    }
}

pub(crate) fn local(args: LocalArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: LocalArgs) -> Result<(), String> {
    let storage_dir = args.data_dir.join("storage");
    std::fs::create_dir_all(&storage_dir)
        .map_err(|e| format!("cannot create {}: {e}", storage_dir.display()))?;
    let (store, kv) = open_stores(&args.data_dir, args.database_url.as_deref()).await?;
    let (secrets, warnings) = Secrets::from_env();
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let location = store.location().to_owned();
    let rt = Runtime::new(store, Arc::new(LocalStorage::new(&storage_dir)), kv)
        .with_secrets(secrets)
        .with_encryption_key(encryption_key(&args.data_dir)?)
        .with_envs(saker_runtime::envs_from_vars(std::env::vars()));
    let (rt, _stop_queue_workers) = crate::queue_cmd::attach(rt, &args.queue).await?;
    let (service, recovered) = Service::start(rt)
        .await
        .map_err(|e| format!("cannot resume unfinished executions: {e}"))?;
    if recovered > 0 {
        eprintln!("resumed {recovered} unfinished executions");
    }
    let app = App::new(
        service,
        ServerConfig {
            max_body_bytes: args.max_body_bytes,
        },
    );
    let address = format!("{}:{}", args.host, args.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    if !local.ip().is_loopback() {
        eprintln!(
            "WARNING: listening on {local} without authentication: anyone who can reach this \
             address can run flows"
        );
    }
    eprintln!(
        "Saker server listening on http://{local} (data in {}, store {})",
        args.data_dir.display(),
        location
    );
    saker_server::serve(app, listener, shutdown_signal())
        .await
        .map_err(|e| format!("server failed: {e}"))?;
    eprintln!("Saker server stopped");
    Ok(())
}

/// SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

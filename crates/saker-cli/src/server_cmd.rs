//! `saker server local` and `saker server standalone`: everything in one process.
//!
//! Both end in [`serve`] with [`Settings`]: `local` builds them from its flags (data under
//! `./data` of the working directory, as Kestra's `server local`), `standalone` from a YAML
//! configuration file with environment overrides ([`crate::config`]). By default internal
//! storage is `<data>/storage` and the store (flows, executions, logs, triggers) and the KV
//! store live in the SQLite file `<data>/saker.db`, or in the database of `database.url` /
//! `--database-url` (`sqlite://PATH`, `postgres://…`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use saker_runtime::Runtime;
use saker_runtime::host::Secrets;
use saker_runtime::service::Service;
use saker_server::{App, ServerConfig};
use saker_storage::{FileStore, StorageConfig};
use saker_store_sql::{SqlStore, SqliteStore};
use saker_task::KvStore;

use crate::config::{self, Settings};

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
/// finds everything again. `url` is the configured `database.url`.
pub(crate) async fn open_stores(
    data_dir: &Path,
    url: Option<&str>,
) -> Result<(Arc<SqlStore>, Arc<dyn KvStore>), String> {
    let store = match url {
        Some(url) => saker_store_sql::open(url).await,
        None => SqliteStore::open(data_dir.join("saker.db"))
            .await
            .map(|store| Arc::new(SqlStore::Sqlite(store))),
    }
    .map_err(|e| format!("cannot open the database: {e}"))?;
    let kv: Arc<dyn KvStore> = store.clone();
    Ok((store, kv))
}

/// The configured key, else one kept in the data directory so encrypted values stay readable
/// across restarts.
pub(crate) fn encryption_key(
    configured: Option<String>,
    data_dir: &Path,
) -> Result<String, String> {
    if let Some(key) = configured {
        saker_expr::crypto::key_bytes(&key).map_err(|e| format!("encryption key: {e}"))?;
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

fn env_vars() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

/// `server local`: flags (and their environment variables), plus the runtime's variables.
pub(crate) fn local(args: LocalArgs) -> ExitCode {
    let vars = env_vars();
    let settings = (|| -> Result<Settings, String> {
        let max_output_size = match vars.get("SAKER_MAX_OUTPUT_SIZE") {
            Some(text) => saker_runtime::parse_size(text)
                .map_err(|e| format!("SAKER_MAX_OUTPUT_SIZE: {e}"))?,
            None => config::DEFAULT_MAX_OUTPUT_SIZE,
        };
        let storage = StorageConfig::from_vars(vars.clone()).map_err(|e| e.to_string())?;
        Ok(Settings {
            host: args.host,
            port: args.port,
            data_dir: args.data_dir,
            max_body_bytes: args.max_body_bytes,
            termination_grace_period: saker_server::DEFAULT_TERMINATION_GRACE_PERIOD,
            auth: None,
            database_url: args.database_url,
            queue: args.queue,
            storage,
            encryption_key: vars.get(ENCRYPTION_KEY_VAR).cloned(),
            secrets: BTreeMap::new(),
            globals: serde_json::Map::new(),
            templates_enabled: vars
                .get("SAKER_TEMPLATES_ENABLED")
                .is_some_and(|v| v == "true"),
            max_output_size,
            retention: config::retention_from_vars(&vars)?,
            search_time_range: Some(saker_server::DEFAULT_SEARCH_TIME_RANGE),
            flow_poll: config::DEFAULT_FLOW_POLL,
        })
    })();
    match settings {
        Ok(settings) => run(settings),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `server standalone --config FILE`: the file, overridden by SAKER_* variables.
pub(crate) fn standalone(config_file: Option<PathBuf>) -> ExitCode {
    let vars = env_vars();
    let loaded = match &config_file {
        Some(path) => config::load(path, &vars),
        None => config::parse("(no configuration file)", "", &vars),
    };
    match loaded {
        Ok((settings, warnings)) => {
            for warning in warnings {
                eprintln!("warning: {warning}");
            }
            run(settings)
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `server hash-password`: the argon2id PHC string of a password (argument or first stdin line).
pub(crate) fn hash_password(password: Option<String>) -> ExitCode {
    let password = match password {
        Some(password) => password,
        None => {
            let mut line = String::new();
            if let Err(e) = std::io::stdin().read_line(&mut line) {
                eprintln!("error: cannot read the password: {e}");
                return ExitCode::FAILURE;
            }
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if password.is_empty() {
        eprintln!("error: empty password");
        return ExitCode::FAILURE;
    }
    match saker_server::auth::hash_password(&password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(settings: Settings) -> ExitCode {
    crate::block_on_result(serve(settings))
}

/// The basic-auth users, plain passwords hashed now (the configuration warned about them).
pub(crate) fn basic_auth(
    settings: &Settings,
) -> Result<Option<Arc<saker_server::auth::BasicAuth>>, String> {
    let Some(auth) = &settings.auth else {
        return Ok(None);
    };
    let mut users = Vec::new();
    for (username, password) in &auth.users {
        let password_hash = if saker_server::auth::is_hash(password) {
            password.clone()
        } else {
            saker_server::auth::hash_password(password)?
        };
        users.push(saker_server::auth::User {
            username: username.clone(),
            password_hash,
        });
    }
    saker_server::auth::BasicAuth::new(auth.realm.clone(), users).map(|auth| Some(Arc::new(auth)))
}

/// Legacy templates (`templates.enabled`): the stored flows shaped like templates (only `id`,
/// `namespace`, `description`, `tasks`, `errors`), as `flow test --flows` reads them; read at
/// start.
async fn stored_templates(
    store: &Arc<SqlStore>,
) -> Result<Vec<saker_flow::template::Template>, String> {
    use saker_storage::Store as _;
    let records = store
        .list_flows(None)
        .await
        .map_err(|e| format!("cannot list the flows: {e}"))?;
    let mut templates = Vec::new();
    for record in records.iter().filter(|r| !r.deleted) {
        if let Ok(flow) =
            saker_flow::parse_and_validate(&record.source, None, saker_tasks::registry())
        {
            templates.extend(saker_flow::template::Template::from_flow(&flow));
        }
    }
    Ok(templates)
}

/// The runtime every server component builds the same way from `settings`: internal storage,
/// the store and KV store, secrets, the encryption key, envs, globals, templates. Returns it
/// with the store's location (for messages).
pub(crate) async fn build_runtime(
    settings: &Settings,
) -> Result<(Runtime<SqlStore>, String), String> {
    let data_dir = &settings.data_dir;
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let files: Arc<dyn FileStore> = match &settings.storage {
        Some(storage) => storage
            .open()
            .map_err(|e| format!("internal storage: {e}"))?,
        None => {
            let storage_dir = data_dir.join("storage");
            std::fs::create_dir_all(&storage_dir)
                .map_err(|e| format!("cannot create {}: {e}", storage_dir.display()))?;
            Arc::new(saker_storage::LocalStorage::new(&storage_dir))
        }
    };
    let (store, kv) = open_stores(data_dir, settings.database_url.as_deref()).await?;
    let location = store.location().to_owned();
    // Configured secrets first: a SECRET_/SAKER_SECRET_ variable of the same key wins.
    let configured = settings
        .secrets
        .iter()
        .map(|(key, value)| (format!("SAKER_SECRET_{key}"), value.clone()));
    let (secrets, warnings) = Secrets::from_vars(configured.chain(std::env::vars()));
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let mut rt = Runtime::new(store, files, kv)
        .with_secrets(secrets)
        .with_encryption_key(encryption_key(settings.encryption_key.clone(), data_dir)?)
        .with_envs(saker_runtime::envs_from_vars(std::env::vars()))
        .with_globals(settings.globals.clone())
        .with_max_output_size(settings.max_output_size);
    if settings.templates_enabled {
        let templates = stored_templates(rt.store()).await?;
        rt = rt.with_templates(templates);
    }
    Ok((rt, location))
}

/// Starts the server described by `settings` and serves until SIGTERM/SIGINT.
async fn serve(settings: Settings) -> Result<(), String> {
    let data_dir = &settings.data_dir;
    let auth = basic_auth(&settings)?;
    let (rt, location) = build_runtime(&settings).await?;
    let (rt, _stop_queue_workers) = crate::queue_cmd::attach(rt, &settings.queue).await?;
    let (service, recovered) = Service::start(rt)
        .await
        .map_err(|e| format!("cannot resume unfinished executions: {e}"))?;
    if recovered > 0 {
        eprintln!("resumed {recovered} unfinished executions");
    }
    let config = server_config(&settings, auth);
    let app = App::new(service, config);
    app.start_retention(settings.retention.clone());
    let what = format!(
        "Saker server listening on http://{{local}} (data in {}, store {location}",
        data_dir.display()
    );
    serve_app(app, &settings, &what).await?;
    eprintln!("Saker server stopped");
    Ok(())
}

/// The HTTP settings of `settings` (API and triggers on).
pub(crate) fn server_config(
    settings: &Settings,
    auth: Option<Arc<saker_server::auth::BasicAuth>>,
) -> ServerConfig {
    ServerConfig {
        max_body_bytes: settings.max_body_bytes,
        auth,
        termination_grace_period: settings.termination_grace_period,
        search_time_range: settings.search_time_range,
        ..ServerConfig::default()
    }
}

/// Listens on the host and port of `settings` and serves `app` until SIGTERM/SIGINT;
/// `banner` is printed with `{local}` replaced by the address, then `)` (after ", basic auth
/// on" when on).
pub(crate) async fn serve_app(
    app: saker_server::Shared<SqlStore>,
    settings: &Settings,
    banner: &str,
) -> Result<(), String> {
    let auth = app.config.auth.is_some();
    let address = format!("{}:{}", settings.host, settings.port);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    if !auth && !local.ip().is_loopback() {
        eprintln!(
            "WARNING: listening on {local} without authentication: anyone who can reach this \
             address can run flows (configure server.basic-auth)"
        );
    }
    eprintln!(
        "{}{})",
        banner.replace("{local}", &local.to_string()),
        if auth { ", basic auth on" } else { "" }
    );
    saker_server::serve(app, listener, shutdown_signal())
        .await
        .map_err(|e| format!("server failed: {e}"))
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
    eprintln!("stopping: no new requests; waiting for running requests and task attempts");
}

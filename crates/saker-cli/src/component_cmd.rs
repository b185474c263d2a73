//! The components of a multi-process deployment on one PostgreSQL database (see
//! docs/deploy.md, "Components"): `saker server executor`, `webserver` and `scheduler` (the
//! workers are `saker server worker`). All read the same configuration file as `standalone`.
//!
//! - executor: the executor loop in executor mode (`Runtime::with_inbox`): it owns the
//!   executions it claims from the inbox, runnable attempts go to the PostgreSQL job queue
//!   (`--workers 0`) and it may run queue workers itself (`--workers N`);
//! - webserver: the REST API over a remote service (`Service::remote`), triggers off;
//! - scheduler: the triggers over a remote service, no API (`/ping`, `/health`, `/metrics`).
//!   It reloads the stored flows every [`FLOW_POLL`] (flows change through the webserver).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use saker_queue_pg::{PgInbox, PgQueue};
use saker_runtime::inbox::{ExecutorInfo, ExecutorQueue};
use saker_runtime::queue::JobQueue;
use saker_runtime::service::Service;
use saker_server::{App, ServerConfig};
use saker_storage::Store;

use crate::config::{self, Settings};
use crate::server_cmd::{basic_auth, build_runtime, serve_app, server_config, shutdown_signal};

/// How often the scheduler component looks for flows created, changed or deleted through the
/// webserver.
pub(crate) const FLOW_POLL: Duration = Duration::from_secs(10);

/// What every component takes.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct ComponentArgs {
    /// The configuration file shared by every component (the `standalone` one).
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        env = "SAKER_CONFIG"
    )]
    pub config: Option<PathBuf>,
    /// The PostgreSQL database shared by every component (overrides `database.url`).
    #[arg(long, env = "SAKER_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The HTTP port (overrides `server.port`): the API of the webserver, `/health` of the
    /// scheduler.
    #[arg(long)]
    pub port: Option<u16>,
}

/// Which component.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Component {
    Executor { workers: usize, lease: u64 },
    Webserver,
    Scheduler,
}

impl Component {
    fn name(self) -> &'static str {
        match self {
            Component::Executor { .. } => "executor",
            Component::Webserver => "webserver",
            Component::Scheduler => "scheduler",
        }
    }
}

pub(crate) fn run(component: Component, args: ComponentArgs) -> ExitCode {
    crate::block_on_result(start(component, args))
}

/// The settings of the configuration file and environment, with the flags on top; the
/// database must be PostgreSQL.
fn settings(component: Component, args: &ComponentArgs) -> Result<(Settings, String), String> {
    let vars: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let (mut settings, warnings) = match &args.config {
        Some(path) => config::load(path, &vars)?,
        None => config::parse("(no configuration file)", "", &vars)?,
    };
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    if let Some(url) = &args.database_url {
        settings.database_url = Some(url.clone());
    }
    if let Some(port) = args.port {
        settings.port = port;
    }
    let url = settings
        .database_url
        .clone()
        .filter(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
        .ok_or_else(|| {
            format!(
                "`saker server {}` needs the PostgreSQL database every component shares: \
                 --database-url postgres://USER@HOST:PORT/DATABASE (or `database.url` in the \
                 configuration file); a single process on SQLite is `saker server standalone`",
                component.name()
            )
        })?;
    Ok((settings, url))
}

async fn start(component: Component, args: ComponentArgs) -> Result<(), String> {
    let (settings, url) = settings(component, &args)?;
    let (rt, location) = build_runtime(&settings).await?;
    let inbox: Arc<dyn ExecutorQueue> =
        Arc::new(PgInbox::connect(&url, 4).await.map_err(|e| e.to_string())?);
    match component {
        Component::Executor { workers, lease } => {
            let queue = crate::queue_cmd::QueueArgs {
                queue_url: Some(url.clone()),
                workers,
                lease,
            };
            let (rt, stop_workers) = crate::queue_cmd::attach(rt, &queue).await?;
            let info = ExecutorInfo::this_process();
            let id = info.id.clone();
            let rt = rt.with_inbox(inbox, info, Duration::from_secs(lease.max(1)));
            let (service, _) = Service::start(rt)
                .await
                .map_err(|e| format!("cannot start the executor: {e}"))?;
            eprintln!(
                "Saker executor {id} started (store {location}; task runs on {})",
                if workers == 0 {
                    "worker processes".to_owned()
                } else {
                    format!("{workers} threads of this process and worker processes")
                }
            );
            shutdown_signal().await;
            if !service.drain(settings.termination_grace_period).await {
                eprintln!(
                    "warning: task attempts still running after the termination grace period: \
                     they are abandoned and run again by the executor taking over"
                );
            }
            service.shutdown().await;
            stop_workers.cancel();
            eprintln!("Saker executor stopped");
            Ok(())
        }
        Component::Webserver | Component::Scheduler => {
            // The queue only serves `GET /api/v1/workers` here: nothing is dispatched.
            let queue: Arc<dyn JobQueue> =
                Arc::new(PgQueue::connect(&url, 2).await.map_err(|e| e.to_string())?);
            let service = Service::remote(rt.with_queue(queue), inbox);
            let scheduler = component == Component::Scheduler;
            let config = ServerConfig {
                triggers: scheduler,
                api: !scheduler,
                ..server_config(&settings, basic_auth(&settings)?)
            };
            let app = App::new(service, config);
            if scheduler {
                // Retention runs in one kind of process only: the scheduler's.
                app.start_retention(settings.retention.clone());
                tokio::spawn(follow_flows(app.clone()));
            }
            let banner = format!(
                "Saker {} listening on http://{{local}} (store {location}",
                component.name()
            );
            serve_app(app, &settings, &banner).await?;
            eprintln!("Saker {} stopped", component.name());
            Ok(())
        }
    }
}

/// The scheduler component: flows change through the webserver, another process, so the
/// stored revisions are compared every [`FLOW_POLL`] and the triggers of changed flows reloaded.
async fn follow_flows<S: Store>(app: saker_server::Shared<S>) {
    let mut known: Option<HashMap<(String, String), u32>> = None;
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                () = tokio::time::sleep(FLOW_POLL) => {}
                () = app.stopping.cancelled() => return,
            }
        }
        first = false;
        let records = match app.store().list_flows(None).await {
            Ok(records) => records,
            Err(error) => {
                eprintln!("warning: reading the flows: {error}");
                continue;
            }
        };
        let now: HashMap<(String, String), u32> = records
            .iter()
            .filter(|r| !r.deleted)
            .map(|r| ((r.namespace.clone(), r.id.clone()), r.revision))
            .collect();
        // The first look (before the start loads every flow) only records the revisions.
        let Some(before) = known.replace(now.clone()) else {
            continue;
        };
        for ((namespace, id), revision) in &now {
            if before.get(&(namespace.clone(), id.clone())) == Some(revision) {
                continue;
            }
            let loaded = match app.flow(namespace, id, None).await {
                Ok(flow) => app
                    .scheduler
                    .flow_changed(flow)
                    .await
                    .map_err(|e| e.to_string()),
                Err(error) => Err(error.message),
            };
            if let Err(message) = loaded {
                eprintln!("warning: triggers of {namespace}.{id} not loaded: {message}");
            }
        }
        for (namespace, id) in before.keys() {
            if !now.contains_key(&(namespace.clone(), id.clone()))
                && let Err(error) = app.scheduler.flow_deleted(namespace, id).await
            {
                eprintln!("warning: triggers of {namespace}.{id} not removed: {error}");
            }
        }
    }
}

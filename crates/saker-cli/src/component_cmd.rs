//! The components of a multi-process deployment on one PostgreSQL database (see
//! docs/deploy.md, "Components"): `saker server executor`, `webserver` and `scheduler` (the
//! workers are `saker server worker`). All read the same configuration file as `standalone`.
//!
//! - executor: the executor loop in executor mode (`Runtime::with_inbox`): it owns the
//!   executions it claims from the inbox, runnable attempts go to the PostgreSQL job queue
//!   (`--workers 0`) and it may run queue workers itself (`--workers N`);
//! - webserver: the REST API over a remote service (`Service::remote`), triggers off (webhooks
//!   are answered from the stored flows);
//! - scheduler: the triggers over a remote service, no API (`/ping`, `/health`, `/metrics`).
//!   Flows change through the webserver (or any process): the store notifies each change in
//!   the transaction that saves it and [`follow_flows`] reloads that flow; the stored flows
//!   are compared every `scheduler.flow-poll` and after a lost connection, for notes missed.
//!   Trigger states changed by the webserver's API (backfills, `disabled`, unlock) are noted
//!   the same way and read again (all of them at each of those looks).

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
use saker_store_sql::{FlowChange, SqlStore};

use crate::config::{self, Settings};
use crate::server_cmd::{basic_auth, build_runtime, serve_app, server_config, shutdown_signal};

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
            let scheduler = component == Component::Scheduler;
            // Listening before the triggers load: no change committed after the load is missed.
            let changes = if scheduler {
                rt.store()
                    .flow_changes()
                    .await
                    .map_err(|e| format!("cannot listen for flow changes: {e}"))?
            } else {
                None
            };
            let service = Service::remote(rt.with_queue(queue), inbox);
            let config = ServerConfig {
                triggers: scheduler,
                api: !scheduler,
                ..server_config(&settings, basic_auth(&settings)?)
            };
            let app = App::new(service, config);
            if scheduler {
                // Retention runs in one kind of process only: the scheduler's.
                app.start_retention(settings.retention.clone());
                // Loaded here, before the changes are followed: a change must not be applied
                // before the load, which would bring the older revision back.
                app.start_triggers().await?;
                tokio::spawn(follow_flows(app.clone(), changes, settings.flow_poll));
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

type FlowChanges = tokio::sync::mpsc::UnboundedReceiver<FlowChange>;

/// The latest stored revision of every live flow.
type Revisions = HashMap<(String, String), u32>;

/// The scheduler component: flows change in other processes. Each change noted by the store
/// reloads that flow at once (a trigger state changed by the webserver's API: that trigger's
/// record is read again); every `poll`, and after the listening connection was lost, the
/// stored revisions are compared with the known ones and the flows that differ are reloaded,
/// and every trigger record is read again (the notes missed). Call after the triggers are
/// loaded.
async fn follow_flows(
    app: saker_server::Shared<SqlStore>,
    changes: Option<FlowChanges>,
    poll: Duration,
) {
    // What the load just read; a change committed since then has its note waiting.
    let mut known = stored_revisions(&app).await.unwrap_or_default();
    let mut changes = changes;
    let mut ticks = tokio::time::interval(poll);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is now: the look above was it.
    ticks.tick().await;
    loop {
        let change = tokio::select! {
            () = app.stopping.cancelled() => return,
            _ = ticks.tick() => FlowChange::Resync,
            change = async { changes.as_mut()?.recv().await }, if changes.is_some() => match change {
                Some(change) => change,
                None => {
                    eprintln!("warning: flow changes are no longer heard: the triggers follow \
                               them every {}s", poll.as_secs());
                    changes = None;
                    continue;
                }
            },
        };
        match change {
            FlowChange::Saved { namespace, id } => reload(&app, &mut known, &namespace, &id).await,
            FlowChange::Trigger {
                namespace,
                id,
                trigger_id,
            } => {
                let key = saker_storage::TriggerKey {
                    namespace,
                    flow_id: id,
                    trigger_id,
                };
                if let Err(error) = app.scheduler.trigger_changed(&key).await {
                    eprintln!(
                        "warning: trigger {}.{}.{} not read again: {error} (read at the next \
                         look)",
                        key.namespace, key.flow_id, key.trigger_id
                    );
                }
            }
            FlowChange::Resync => {
                resync(&app, &mut known).await;
                if let Err(error) = app.scheduler.triggers_changed().await {
                    eprintln!(
                        "warning: reading the trigger states: {error} (read at the next look)"
                    );
                }
            }
        }
    }
}

async fn stored_revisions(app: &saker_server::Shared<SqlStore>) -> Option<Revisions> {
    match app.store().list_flows(None).await {
        Ok(records) => Some(
            records
                .iter()
                .filter(|r| !r.deleted)
                .map(|r| ((r.namespace.clone(), r.id.clone()), r.revision))
                .collect(),
        ),
        Err(error) => {
            eprintln!("warning: reading the flows: {error} (retried at the next look)");
            None
        }
    }
}

/// Reloads the flows whose stored revision differs from the known one (deleted ones too).
async fn resync(app: &saker_server::Shared<SqlStore>, known: &mut Revisions) {
    let Some(stored) = stored_revisions(app).await else {
        return;
    };
    let gone = known.keys().filter(|k| !stored.contains_key(*k));
    let changed = stored.iter().filter(|(k, r)| known.get(*k) != Some(*r));
    let differ: Vec<(String, String)> = gone.chain(changed.map(|(k, _)| k)).cloned().collect();
    for (namespace, id) in differ {
        reload(app, known, &namespace, &id).await;
    }
}

/// Reloads the triggers of one flow from the store: its latest revision, or none when it is
/// deleted.
async fn reload(
    app: &saker_server::Shared<SqlStore>,
    known: &mut Revisions,
    namespace: &str,
    id: &str,
) {
    let key = (namespace.to_owned(), id.to_owned());
    let record = match app.store().get_flow(namespace, id, None).await {
        Ok(record) => record,
        Err(error) => {
            eprintln!("warning: reading flow {namespace}.{id}: {error} (retried at the next look)");
            return;
        }
    };
    let Some(record) = record else {
        if let Err(error) = app.scheduler.flow_deleted(namespace, id).await {
            eprintln!("warning: triggers of {namespace}.{id} not removed: {error}");
            return;
        }
        known.remove(&key);
        return;
    };
    match app.flow(namespace, id, Some(record.revision)).await {
        Ok(flow) => {
            if let Err(error) = app.scheduler.flow_changed(flow).await {
                eprintln!(
                    "warning: triggers of {namespace}.{id} not loaded: {error} (retried at the \
                     next look)"
                );
                return;
            }
        }
        // A revision that does not parse is not tried again until it changes.
        Err(error) if error.status.as_u16() == 422 => {
            eprintln!(
                "warning: triggers of {namespace}.{id} not loaded: {}",
                error.message
            );
        }
        Err(error) => {
            eprintln!(
                "warning: reading flow {namespace}.{id}: {} (retried at the next look)",
                error.message
            );
            return;
        }
    }
    known.insert(key, record.revision);
}

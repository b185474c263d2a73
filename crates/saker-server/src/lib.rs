//! saker-server: Kestra's REST API (`/api/v1/...` and `/api/v1/main/...`) over the runtime
//! [`Service`], generic over the [`Store`].
//!
//! JSON follows Kestra's conventions: nulls omitted, ISO-8601 dates and durations, pages as
//! `{results, total}`; errors have Kestra's shape and status codes ([`error`]).
//!
//! Code map: [`flows`], [`flows_io`] (export/import zips, bulk delete/disable/enable),
//! [`zip_io`] (checked zip reading and writing), [`executions`] (create, read, search, actions, files, SSE follow),
//! [`logs`], [`kv`], [`misc`] (`/ping`, `/health`, `/configs`, plugins, schema), [`auth`]
//! (basic auth middleware), [`prometheus`] (`/metrics`, Prometheus), [`metrics`] (task metrics API),
//! [`retention`] (the periodic purge of old executions and logs).

pub mod actions;
pub mod auth;
pub mod error;
pub mod executions;
pub mod flows;
pub mod flows_io;
pub mod kv;
pub mod logs;
pub mod metrics;
pub mod misc;
pub mod namespace_files;
pub mod prometheus;
pub mod query;
pub mod retention;
pub mod triggers;
pub mod zip_io;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use saker_flow::Flow;
use saker_runtime::service::Service;
use saker_scheduler::{Scheduler, SchedulerConfig, SystemClock};
use saker_storage::Store;

use crate::error::{ApiError, ApiResult};

/// Server settings (`saker server local` flags, `saker server standalone` configuration).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// Basic auth on every route but [`auth::OPEN_PATHS`]; `None`: no authentication.
    pub auth: Option<Arc<auth::BasicAuth>>,
    /// How long a graceful stop waits for running task attempts (Kestra's
    /// `kestra.server.termination-grace-period`).
    pub termination_grace_period: Duration,
    /// The range `/executions/search` and `/logs/search` cover when a request gives no date
    /// (`startDate`, `endDate`, `timeRange`); `None`: everything.
    pub search_time_range: Option<Duration>,
    /// Whether this process runs the triggers (`false`: the webserver component, a separate
    /// scheduler runs them).
    pub triggers: bool,
    /// Whether the REST API is served (`false`: the scheduler component, only `/ping`,
    /// `/health` and `/metrics`).
    pub api: bool,
}

/// Kestra's default `micronaut.server.max-request-size` is 10 MB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// Kestra's UI searches the last 7 days unless told otherwise.
pub const DEFAULT_SEARCH_TIME_RANGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Kestra's default `kestra.server.termination-grace-period` is 5 minutes.
pub const DEFAULT_TERMINATION_GRACE_PERIOD: Duration = Duration::from_secs(5 * 60);

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            auth: None,
            termination_grace_period: DEFAULT_TERMINATION_GRACE_PERIOD,
            search_time_range: Some(DEFAULT_SEARCH_TIME_RANGE),
            triggers: true,
            api: true,
        }
    }
}

/// What every handler reaches.
pub struct App<S: Store> {
    pub service: Service<S>,
    pub config: ServerConfig,
    /// Cancelled when the server stops: open SSE streams end, so graceful shutdown does not
    /// wait for followers that never hang up.
    pub stopping: tokio_util::sync::CancellationToken,
    /// Parsed flows by `(namespace, id, revision)` (revisions never change once stored), with
    /// the plugin defaults that did not apply (logged on each execution, as Kestra does).
    flows: Mutex<HashMap<(String, String, u32), FlowEntry>>,
    /// Schedule, Flow and Webhook triggers; started by [`App::start_triggers`].
    pub scheduler: Scheduler<S, triggers::Launcher<S>>,
    /// What `/metrics` renders.
    pub metrics: prometheus::Metrics,
    /// Set by the first [`App::start_triggers`].
    triggers_started: std::sync::atomic::AtomicBool,
}

pub type Shared<S> = Arc<App<S>>;

/// This process's name in trigger leases. Unique, not only the pid: the webserver and the
/// scheduler components both take leases (API operations, evaluations), and two containers
/// may both be pid 1; a lease granted again to the "same" owner would let one overwrite what
/// the other wrote under it.
fn lease_owner() -> String {
    use saker_core::IdSource;
    let nonce = saker_runtime::host::RandomIds.next_u128() as u32;
    format!("saker-{}-{nonce:08x}", std::process::id())
}

type FlowEntry = (Arc<Flow>, Arc<Vec<String>>);

impl<S: Store> App<S> {
    pub fn new(service: Service<S>, config: ServerConfig) -> Shared<S> {
        Arc::new_cyclic(|app| {
            let (_, services) = service.runtime().expressions();
            let scheduler = Scheduler::new(
                service.runtime().store().clone(),
                Arc::new(triggers::Launcher { app: app.clone() }),
                Arc::new(SystemClock),
                services.clone(),
                SchedulerConfig {
                    owner: lease_owner(),
                    ..SchedulerConfig::default()
                },
            );
            App {
                service,
                config,
                stopping: tokio_util::sync::CancellationToken::new(),
                flows: Mutex::default(),
                scheduler,
                metrics: prometheus::Metrics::new(),
                triggers_started: std::sync::atomic::AtomicBool::new(false),
            }
        })
    }

    /// Loads the triggers of every stored flow, then runs the scheduler and feeds it every
    /// change of state of an execution until the server stops. Only the first call does it
    /// ([`serve`] calls it; the scheduler component calls it first, once it listens for flow
    /// changes, so none is missed between the load and the listening).
    pub async fn start_triggers(self: &Arc<Self>) -> Result<(), String> {
        if self
            .triggers_started
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return Ok(());
        }
        // Subscribe first: no change saved after the load may be missed. Triggers evaluate
        // state changes, each once (not every save of an execution).
        let mut updates = self.service.transitions();
        let mut flows = Vec::new();
        for record in self
            .store()
            .list_flows(None)
            .await
            .map_err(|e| e.to_string())?
        {
            match self.flow(&record.namespace, &record.id, None).await {
                Ok(flow) => flows.push(flow),
                Err(e) => eprintln!(
                    "warning: triggers of {}.{} not loaded: {}",
                    record.namespace, record.id, e.message
                ),
            }
        }
        self.scheduler
            .load(flows)
            .await
            .map_err(|e| format!("cannot load the triggers: {e}"))?;
        let scheduler = self.scheduler.clone();
        let stopping = self.stopping.clone();
        tokio::spawn(async move { scheduler.run(stopping.cancelled_owned()).await });
        let scheduler = self.scheduler.clone();
        let stopping = self.stopping.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopping.cancelled() => return,
                    update = updates.recv() => match update {
                        Ok(execution) => scheduler.execution_changed(execution),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            eprintln!("warning: the scheduler missed {n} execution changes");
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    },
                }
            }
        });
        Ok(())
    }

    /// Runs the retention job (`retention.*`) every `config.interval` until the server stops;
    /// the first pass runs at once. Nothing is started when no age is configured.
    pub fn start_retention(self: &Arc<Self>, config: retention::RetentionConfig) {
        if !config.is_enabled() {
            return;
        }
        let app = self.clone();
        tokio::spawn(async move {
            loop {
                let now = chrono::Utc::now();
                let files = app.service.runtime().files().clone();
                match retention::run_once(&**app.store(), &*files, &config, now).await {
                    Ok(purged) if purged != retention::Purged::default() => eprintln!(
                        "retention: deleted {} executions and {} log lines",
                        purged.executions, purged.logs
                    ),
                    Ok(_) => {}
                    Err(e) => eprintln!("warning: retention: {e} (retried at the next pass)"),
                }
                tokio::select! {
                    _ = app.stopping.cancelled() => return,
                    _ = tokio::time::sleep(config.interval) => {}
                }
            }
        });
    }

    /// Tells the scheduler a flow changed (after the store commit). Not when this process runs
    /// no triggers (the webserver component): the scheduler component hears of the change from
    /// the store and is then the only one writing the trigger states (two writers could
    /// overwrite a state the other just leased).
    pub(crate) async fn flow_changed(&self, namespace: &str, id: &str) -> ApiResult<()> {
        if !self.config.triggers {
            return Ok(());
        }
        let flow = self.flow(namespace, id, None).await?;
        self.scheduler
            .flow_changed(flow)
            .await
            .map_err(|e| ApiError::invalid(e.to_string()))
    }

    /// Tells the scheduler a flow was deleted (not when this process runs no triggers).
    pub(crate) async fn flow_deleted(&self, namespace: &str, id: &str) -> ApiResult<()> {
        if !self.config.triggers {
            return Ok(());
        }
        self.scheduler
            .flow_deleted(namespace, id)
            .await
            .map_err(ApiError::internal)
    }

    pub fn store(&self) -> &Arc<S> {
        self.service.runtime().store()
    }

    /// A stored flow revision (the latest when `None`), parsed; 404 when unknown or deleted.
    pub async fn flow(
        &self,
        namespace: &str,
        id: &str,
        revision: Option<u32>,
    ) -> ApiResult<Arc<Flow>> {
        Ok(self.flow_with_warnings(namespace, id, revision).await?.0)
    }

    /// [`App::flow`] and the plugin defaults of the flow that were ignored.
    pub async fn flow_with_warnings(
        &self,
        namespace: &str,
        id: &str,
        revision: Option<u32>,
    ) -> ApiResult<FlowEntry> {
        let record = self
            .store()
            .get_flow(namespace, id, revision)
            .await?
            .filter(|r| !r.deleted || revision.is_some())
            .ok_or_else(|| ApiError::not_found(format!("Flow '{namespace}.{id}' not found")))?;
        let key = (namespace.to_owned(), id.to_owned(), record.revision);
        if let Some(entry) = self.flows.lock().ok().and_then(|f| f.get(&key).cloned()) {
            return Ok(entry);
        }
        let doc = saker_flow::check_source(
            &record.source,
            None,
            saker_tasks::registry(),
            &saker_flow::LoadOptions::default(),
        )
        .into_iter()
        .next();
        let Some(doc) = doc.filter(|d| d.is_valid()) else {
            return Err(ApiError::invalid(format!(
                "flow '{namespace}.{id}' revision {} is not valid any more",
                record.revision
            )));
        };
        let ignored: Vec<String> = doc
            .diagnostics
            .iter()
            .filter(|d| d.code == saker_flow::diag::codes::PLUGIN_DEFAULTS)
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect();
        let Some(mut flow) = doc.flow else {
            return Err(ApiError::invalid(format!(
                "flow '{namespace}.{id}' is invalid"
            )));
        };
        flow.revision = Some(record.revision);
        // Template tasks include the server's templates (or fail with Kestra's message when
        // templates are disabled), as the runtime does for the flows it loads itself.
        saker_flow::template::expand_templates(&mut flow, self.service.runtime().templates());
        let entry = (Arc::new(flow), Arc::new(ignored));
        if let Ok(mut flows) = self.flows.lock() {
            flows.insert(key, entry.clone());
        }
        Ok(entry)
    }
}

/// The `/api/v1` routes (also served under `/api/v1/main`).
fn api<S: Store>() -> Router<Shared<S>> {
    Router::new()
        .route("/configs", get(misc::configs::<S>))
        .route("/workers", get(misc::workers::<S>))
        .route("/executors", get(misc::executors::<S>))
        .route("/openapi.json", get(misc::openapi))
        .route("/plugins", get(misc::plugins))
        .route("/plugins/schemas/{kind}", get(misc::schema))
        .route("/flows", post(flows::create::<S>))
        .route("/flows/validate", post(flows::validate))
        .route("/flows/search", get(flows::search::<S>))
        .route("/flows/import", post(flows_io::import::<S>))
        .route(
            "/flows/export/by-query",
            get(flows_io::export_by_query::<S>),
        )
        .route("/flows/export/by-ids", post(flows_io::export_by_ids::<S>))
        .route("/flows/delete/by-ids", delete(flows_io::delete_by_ids::<S>))
        .route(
            "/flows/delete/by-query",
            delete(flows_io::delete_by_query::<S>),
        )
        .route("/flows/disable/by-ids", post(flows_io::disable_by_ids::<S>))
        .route(
            "/flows/disable/by-query",
            post(flows_io::disable_by_query::<S>),
        )
        .route("/flows/enable/by-ids", post(flows_io::enable_by_ids::<S>))
        .route(
            "/flows/enable/by-query",
            post(flows_io::enable_by_query::<S>),
        )
        .route(
            "/flows/{ns}",
            get(flows::list_namespace::<S>).post(flows::update_namespace::<S>),
        )
        .route(
            "/flows/{ns}/{id}",
            get(flows::get_one::<S>)
                .put(flows::update::<S>)
                .delete(flows::delete::<S>),
        )
        .route("/flows/{ns}/{id}/revisions", get(flows::revisions::<S>))
        .route("/executions/search", get(executions::search::<S>))
        .route("/executions/by-ids", delete(actions::delete_by_ids::<S>))
        .route(
            "/executions/by-query",
            delete(actions::delete_by_query::<S>),
        )
        .route(
            "/executions/{p1}/by-ids",
            post(actions::by_ids::<S>).delete(actions::by_ids::<S>),
        )
        .route(
            "/executions/{p1}/by-query",
            post(actions::by_query::<S>).delete(actions::by_query::<S>),
        )
        .route(
            "/executions/{p1}",
            get(executions::get_one::<S>).delete(executions::delete::<S>),
        )
        // `POST /executions/{id}/kill` and `POST /executions/{namespace}/{flowId}` share a
        // shape (a flow may be called `pause` or `file`): one handler tells them apart, and the
        // routes with a fixed second segment pass their POSTs to it.
        .route("/executions/{p1}/{p2}", post(executions::post_two::<S>))
        .route(
            "/executions/{p1}/kill",
            delete(executions::kill::<S>).post(executions::post_kill::<S>),
        )
        .route("/executions/{p1}/eval/{p2}", post(executions::eval::<S>))
        .route(
            "/executions/{p1}/flow",
            get(executions::flow_of::<S>).post(executions::post_flow::<S>),
        )
        .route(
            "/executions/{p1}/follow",
            get(executions::follow::<S>).post(executions::post_follow::<S>),
        )
        .route(
            "/executions/{p1}/file",
            get(executions::file::<S>).post(executions::post_file::<S>),
        )
        .route(
            "/executions/{p1}/file/metas",
            get(executions::file_metas::<S>),
        )
        .route(
            "/executions/{p1}/file/preview",
            get(actions::file_preview::<S>),
        )
        .route(
            "/executions/webhook/{ns}/{flow_id}/{key}",
            get(triggers::webhook::<S>)
                .post(triggers::webhook::<S>)
                .put(triggers::webhook::<S>),
        )
        .route("/triggers", axum::routing::put(triggers::update::<S>))
        .route("/triggers/search", get(triggers::search::<S>))
        .route(
            "/triggers/backfill/{action}",
            axum::routing::put(triggers::pause_backfill::<S>),
        )
        .route(
            "/triggers/backfill/delete",
            post(triggers::delete_backfill::<S>),
        )
        .route(
            "/triggers/{ns}/{flow_id}/{trigger_id}/unlock",
            post(triggers::unlock::<S>),
        )
        .route(
            "/triggers/{ns}/{flow_id}/{trigger_id}",
            delete(triggers::delete_one::<S>),
        )
        .route(
            "/triggers/unlock/by-triggers",
            post(triggers::unlock_by_triggers::<S>),
        )
        .route(
            "/triggers/unlock/by-query",
            post(triggers::unlock_by_query::<S>),
        )
        .route(
            "/triggers/delete/by-triggers",
            delete(triggers::delete_by_triggers::<S>),
        )
        .route(
            "/triggers/delete/by-query",
            delete(triggers::delete_by_query::<S>),
        )
        .route(
            "/triggers/set-disabled/by-triggers",
            post(triggers::set_disabled_by_triggers::<S>),
        )
        .route(
            "/triggers/set-disabled/by-query",
            post(triggers::set_disabled_by_query::<S>),
        )
        .route(
            "/triggers/backfill/{action}/by-triggers",
            post(triggers::backfill_by_triggers::<S>),
        )
        .route(
            "/triggers/backfill/{action}/by-query",
            post(triggers::backfill_by_query::<S>),
        )
        .route("/logs/search", get(logs::search::<S>))
        .route(
            "/logs/{id}",
            get(logs::by_execution::<S>).delete(logs::delete::<S>),
        )
        .route("/logs/{id}/download", get(logs::download::<S>))
        .route("/logs/{id}/follow", get(logs::follow::<S>))
        .route(
            "/metrics/names/{ns}/{flow_id}",
            get(metrics::flow_names::<S>),
        )
        .route(
            "/metrics/names/{ns}/{flow_id}/{task_id}",
            get(metrics::task_names::<S>),
        )
        .route("/metrics/tasks/{ns}/{flow_id}", get(metrics::tasks::<S>))
        .route("/metrics/{id}", get(metrics::by_execution::<S>))
        .route("/namespaces/{ns}/kv", get(kv::list::<S>))
        .route(
            "/namespaces/{ns}/files",
            get(namespace_files::get_file::<S>)
                .post(namespace_files::upload::<S>)
                .put(namespace_files::move_file::<S>)
                .delete(namespace_files::delete_file::<S>),
        )
        .route(
            "/namespaces/{ns}/files/stats",
            get(namespace_files::stats::<S>),
        )
        .route(
            "/namespaces/{ns}/files/directory",
            get(namespace_files::list_directory::<S>).post(namespace_files::create_directory::<S>),
        )
        .route(
            "/namespaces/{ns}/files/search",
            get(namespace_files::search::<S>),
        )
        .route(
            "/namespaces/{ns}/files/export",
            get(namespace_files::export::<S>),
        )
        .route(
            "/namespaces/{ns}/kv/{key}",
            get(kv::get_one::<S>)
                .put(kv::put::<S>)
                .delete(kv::delete::<S>),
        )
}

/// The whole HTTP application.
pub fn router<S: Store>(app: Shared<S>) -> Router {
    let limit = app.config.max_body_bytes;
    let mut router = Router::new()
        .route("/ping", get(misc::ping))
        .route("/health", get(misc::health::<S>))
        .route("/metrics", get(prometheus::render::<S>));
    if app.config.api {
        let api = api::<S>();
        router = router
            .nest("/api/v1/main", api.clone())
            .nest("/api/v1", api);
    }
    let mut router = router
        .fallback(misc::not_found)
        .layer(DefaultBodyLimit::max(limit));
    // Inside the error shaping (a 401 gets Kestra's error body), outside the routes.
    if let Some(auth) = app.config.auth.clone() {
        router = router.layer(axum::middleware::from_fn(move |request, next| {
            auth::require(auth.clone(), request, next)
        }));
    }
    router
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            prometheus::track::<S>,
        ))
        .layer(axum::middleware::from_fn(error::error_shape))
        .with_state(app)
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops the executor loop.
pub async fn serve<S: Store>(
    app: Shared<S>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    if app.config.triggers {
        app.start_triggers().await.map_err(std::io::Error::other)?;
    }
    tokio::spawn(prometheus::watch(app.clone()));
    let router = router(app.clone());
    let stopping = app.stopping.clone();
    let shutdown = async move {
        shutdown.await;
        stopping.cancel();
    };
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    // No request is served any more: let the running task attempts finish (their results are
    // saved), dispatch nothing new; what is left is resumed at the next start.
    let grace = app.config.termination_grace_period;
    let workers = app
        .service
        .stats()
        .workers
        .load(std::sync::atomic::Ordering::Relaxed);
    if workers > 0 {
        eprintln!(
            "waiting up to {}s for {workers} running task attempts",
            grace.as_secs()
        );
    }
    if !app.service.drain(grace).await {
        eprintln!(
            "warning: task attempts still running after the termination grace period: they \
             are abandoned and run again at the next start"
        );
    }
    app.service.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ops;
#[cfg(test)]
mod tests_search;

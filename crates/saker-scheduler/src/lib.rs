//! saker-scheduler: Kestra's triggers.
//!
//! A pure core, tested without clock or IO (instants are inputs):
//! - [`cron`]: cron expressions in a time zone (DST as croner/Vixie cron handle it);
//! - [`conditions`]: the core conditions evaluated on a schedule date, an upstream execution or
//!   a webhook request;
//! - [`schedule`]: the Schedule trigger's state machine (next date, recovery of missed ticks,
//!   `lateMaximumDelay`, backfills, trigger variables);
//! - [`flow_trigger`]: which executions fire which Flow triggers (states, conditions,
//!   MultipleCondition and preconditions with their time windows);
//! - [`webhook`]: matching a webhook call and its trigger variables.
//!
//! And [`Scheduler`], the thin async loop around them: it keeps the triggers of every flow,
//! sleeps until the next due date (no polling), takes the trigger's lease in the [`Store`],
//! starts executions through an [`ExecutionLauncher`] and records the trigger state.
//! See `docs/triggers.md` for what the server calls and when.
//!
//! [`Store`]: saker_storage::Store

pub mod api;
pub mod conditions;
pub mod cron;
pub mod flow_trigger;
pub mod schedule;
mod service;
pub mod webhook;

pub use api::trigger_context_json;
pub use schedule::{Backfill, Recover, ScheduleSpec, ScheduleState};
pub use service::{
    Clock, ExecutionLauncher, LaunchRequest, Scheduler, SchedulerConfig, SystemClock, TokioClock,
    WebhookOutcome,
};
pub use webhook::WebhookRequest;

/// Why a trigger could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    /// The trigger or one of its conditions is misconfigured.
    #[error("{0}")]
    Invalid(String),
    /// An expression failed to render.
    #[error("{0}")]
    Render(String),
    /// A feature this scheduler does not implement.
    #[error("{0}")]
    Unsupported(String),
    /// The store failed.
    #[error("{0}")]
    Storage(String),
    /// The launcher refused to create the execution.
    #[error("{0}")]
    Launch(String),
}

impl From<saker_storage::Error> for TriggerError {
    fn from(e: saker_storage::Error) -> Self {
        TriggerError::Storage(e.to_string())
    }
}

/// Canonical type names of the triggers this crate runs.
pub const SCHEDULE: &str = "io.kestra.plugin.core.trigger.Schedule";
pub const FLOW: &str = "io.kestra.plugin.core.trigger.Flow";
pub const WEBHOOK: &str = "io.kestra.plugin.core.trigger.Webhook";

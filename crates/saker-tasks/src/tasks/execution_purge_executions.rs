//! `io.kestra.plugin.core.execution.PurgeExecutions`: deletes executions, logs, metrics and storage files matching filters.

use crate::shared::State;
use saker_core::StateType;
use saker_task::prelude::*;
use saker_task::purge::ExecutionsPurge;

/// Properties of `PurgeExecutions`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Only executions of this namespace.
    pub namespace: Option<Property<String>>,
    /// Only executions of this flow.
    pub flow_id: Option<Property<String>>,
    /// Only executions after this date.
    pub start_date: Option<Property<String>>,
    /// Only executions before this date.
    pub end_date: Property<String>,
    /// Only executions in these states.
    pub states: Option<Property<Vec<State>>>,
    /// Delete the executions (default true).
    pub purge_execution: Option<Property<bool>>,
    /// Delete their logs (default true).
    pub purge_log: Option<Property<bool>>,
    /// Delete their metrics (default true).
    pub purge_metric: Option<Property<bool>>,
    /// Delete their storage files (default true).
    pub purge_storage: Option<Property<bool>>,
    /// Executions deleted per batch (default 100).
    pub batch_size: Option<Property<u32>>,
}

/// Runs `PurgeExecutions`: the ended executions matching the filters go, batch after batch.
pub struct PurgeExecutions;

/// An ISO-8601 date property (`{{ now() | dateAdd(-1, 'MONTHS') }}` renders to one).
pub(crate) fn date(name: &str, text: &str) -> Result<saker_core::Instant, TaskError> {
    saker_core::time::parse_instant(text.trim())
        .map_err(|_| TaskError::failed(format!("{name}: `{text}` is not an ISO-8601 date")))
}

fn state_type(state: State) -> Result<StateType, TaskError> {
    let name = serde_json::to_value(state).map_err(TaskError::failed)?;
    StateType::ALL
        .into_iter()
        .find(|t| Some(t.as_str()) == name.as_str())
        .ok_or_else(|| TaskError::failed(format!("unknown state {name}")))
}

impl RunnableTask for PurgeExecutions {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        if !ctx.render_opt(&params.purge_execution)?.unwrap_or(true) {
            // Logs, metrics and files without their execution: use PurgeLogs for the logs.
            return Err(TaskError::failed(
                "purgeExecution: false is not supported: use io.kestra.plugin.core.log.PurgeLogs \
                 to delete logs only",
            ));
        }
        let end = ctx.render_property(&params.end_date)?;
        let start = ctx.render_opt(&params.start_date)?;
        let states = ctx
            .render_opt(&params.states)?
            .unwrap_or_default()
            .into_iter()
            .map(state_type)
            .collect::<Result<Vec<_>, _>>()?;
        let purge = ExecutionsPurge {
            namespace: ctx.render_opt(&params.namespace)?,
            flow_id: ctx.render_opt(&params.flow_id)?,
            start_date: start
                .as_deref()
                .map(|s| date("startDate", s))
                .transpose()?,
            end_date: date("endDate", &end)?,
            states,
            purge_log: ctx.render_opt(&params.purge_log)?.unwrap_or(true),
            purge_metric: ctx.render_opt(&params.purge_metric)?.unwrap_or(true),
            purge_storage: ctx.render_opt(&params.purge_storage)?.unwrap_or(true),
            batch_size: ctx.render_opt(&params.batch_size)?.unwrap_or(100),
        };
        if purge.flow_id.is_some() && purge.namespace.is_none() {
            return Err(TaskError::failed(
                "flowId needs namespace: give the namespace of the flow to purge",
            ));
        }
        let purged = ctx
            .purger()?
            .purge_executions(purge)
            .await
            .map_err(|e| TaskError::failed(format!("failed to purge executions: {e}")))?;
        Ok(TaskOutcome::empty()
            .with("executionsCount", purged.executions)
            .with("storagesCount", purged.files))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.execution.PurgeExecutions",
    aliases: [
        "io.kestra.core.tasks.storages.Purge",
        "io.kestra.plugin.core.storage.Purge",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete executions and their data.",
    slots: [],
    params: Params,
    runnable: PurgeExecutions,
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::{Arc, Mutex};

    use saker_core::StateType;
    use saker_task::purge::{ExecutionsPurge, LogsPurge, PurgedExecutions, Purger};
    use saker_task::task::BoxFuture;
    use serde_json::json;

    use crate::test_support::{env, run};

    /// Records the requests and deletes nothing.
    #[derive(Default)]
    pub(crate) struct Recorder {
        pub executions: Mutex<Vec<ExecutionsPurge>>,
        pub logs: Mutex<Vec<LogsPurge>>,
    }

    impl Purger for Recorder {
        fn purge_executions(
            &self,
            purge: ExecutionsPurge,
        ) -> BoxFuture<'_, Result<PurgedExecutions, String>> {
            self.executions.lock().unwrap().push(purge);
            Box::pin(async {
                Ok(PurgedExecutions {
                    executions: 3,
                    files: 2,
                })
            })
        }

        fn purge_logs(&self, purge: LogsPurge) -> BoxFuture<'_, Result<u64, String>> {
            self.logs.lock().unwrap().push(purge);
            Box::pin(async { Ok(7) })
        }
    }

    #[tokio::test]
    async fn renders_the_filters_and_reports_the_counts() {
        let mut env = env();
        let recorder = Arc::new(Recorder::default());
        env.purger = Some(recorder.clone());
        let ty = "io.kestra.plugin.core.execution.PurgeExecutions";
        let outcome = run(
            &env,
            ty,
            json!({
                "namespace": "company",
                "endDate": "{{ '2026-01-01T00:00:00Z' }}",
                "states": ["SUCCESS", "FAILED"],
                "purgeLog": false,
            }),
            json!({}),
        )
        .await
        .unwrap();
        assert_eq!(outcome.outputs["executionsCount"], json!(3));
        assert_eq!(outcome.outputs["storagesCount"], json!(2));
        let request = recorder.executions.lock().unwrap()[0].clone();
        assert_eq!(request.namespace.as_deref(), Some("company"));
        assert_eq!(request.states, [StateType::Success, StateType::Failed]);
        assert_eq!(
            request.end_date,
            saker_core::time::parse_instant("2026-01-01T00:00:00Z").unwrap()
        );
        assert!(!request.purge_log && request.purge_metric && request.purge_storage);
        assert_eq!(request.batch_size, 100);

        let bad = run(&env, ty, json!({"endDate": "last month"}), json!({})).await;
        assert!(bad.unwrap_err().to_string().contains("not an ISO-8601 date"));
        let flow_only = run(
            &env,
            ty,
            json!({"flowId": "f", "endDate": "2026-01-01T00:00:00Z"}),
            json!({}),
        )
        .await;
        assert!(flow_only.unwrap_err().to_string().contains("flowId needs namespace"));
    }

    #[tokio::test]
    async fn without_a_store_it_fails_with_a_message() {
        let env = env();
        let outcome = run(
            &env,
            "io.kestra.plugin.core.execution.PurgeExecutions",
            json!({"endDate": "2026-01-01T00:00:00Z"}),
            json!({}),
        )
        .await;
        assert!(outcome.unwrap_err().to_string().contains("no store"));
    }
}

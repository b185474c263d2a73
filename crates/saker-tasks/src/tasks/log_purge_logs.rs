//! `io.kestra.plugin.core.log.PurgeLogs`: deletes logs matching namespace, flow, execution, level and date filters.

use crate::shared::Level;
use crate::tasks::execution_purge_executions::date;
use saker_task::prelude::*;
use saker_task::purge::LogsPurge;

/// Properties of `PurgeLogs`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Only logs of this namespace.
    pub namespace: Option<Property<String>>,
    /// Only logs of this flow.
    pub flow_id: Option<Property<String>>,
    /// Only logs of this execution.
    pub execution_id: Option<Property<String>>,
    /// Only logs at these levels.
    pub log_levels: Option<Property<Vec<Level>>>,
    /// Only logs after this date.
    pub start_date: Option<Property<String>>,
    /// Only logs before this date.
    pub end_date: Property<String>,
}

/// Runs `PurgeLogs`: every matching line goes, in bounded batches.
pub struct PurgeLogs;

impl RunnableTask for PurgeLogs {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let end = ctx.render_property(&params.end_date)?;
        let start = ctx.render_opt(&params.start_date)?;
        let purge = LogsPurge {
            namespace: ctx.render_opt(&params.namespace)?,
            flow_id: ctx.render_opt(&params.flow_id)?,
            execution_id: ctx.render_opt(&params.execution_id)?,
            levels: ctx.render_opt(&params.log_levels)?.unwrap_or_default(),
            start_date: start.as_deref().map(|s| date("startDate", s)).transpose()?,
            end_date: date("endDate", &end)?,
        };
        if purge.flow_id.is_some() && purge.namespace.is_none() {
            return Err(TaskError::failed(
                "flowId needs namespace: give the namespace of the flow to purge",
            ));
        }
        let count = ctx
            .purger()?
            .purge_logs(purge)
            .await
            .map_err(|e| TaskError::failed(format!("failed to purge logs: {e}")))?;
        Ok(TaskOutcome::empty().with("count", count))
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.log.PurgeLogs",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Delete logs matching filters.",
    slots: [],
    params: Params,
    runnable: PurgeLogs,
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::tasks::execution_purge_executions::tests::Recorder;
    use crate::test_support::{env, run};

    #[tokio::test]
    async fn renders_the_filters_and_reports_the_count() {
        let mut env = env();
        let recorder = Arc::new(Recorder::default());
        env.purger = Some(recorder.clone());
        let outcome = run(
            &env,
            "io.kestra.plugin.core.log.PurgeLogs",
            json!({
                "namespace": "company",
                "flowId": "f",
                "logLevels": ["TRACE", "DEBUG"],
                "startDate": "2025-01-01T00:00:00Z",
                "endDate": "2026-01-01T00:00:00Z",
            }),
            json!({}),
        )
        .await
        .unwrap();
        assert_eq!(outcome.outputs["count"], json!(7));
        let request = recorder.logs.lock().unwrap()[0].clone();
        assert_eq!(request.flow_id.as_deref(), Some("f"));
        assert_eq!(request.levels.len(), 2);
        assert!(request.start_date.is_some());
    }
}

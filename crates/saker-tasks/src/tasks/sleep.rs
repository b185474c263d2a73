//! `io.kestra.plugin.core.flow.Sleep`: blocks the worker for a duration.

use saker_task::prelude::*;

/// Properties of `Sleep`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// How long to sleep.
    pub duration: Property<IsoDuration>,
}

/// Runs `Sleep`.
pub struct Sleep;

impl RunnableTask for Sleep {
    type Params = Params;

    async fn run(params: Params, ctx: &mut RunContext) -> Result<TaskOutcome, TaskError> {
        let duration = ctx.render_property(&params.duration)?;
        // Kestra logs this line (log.Fetch of a flow with a Sleep counts it).
        ctx.logger().info(format!("Waiting for {duration}"));
        tokio::select! {
            () = tokio::time::sleep(duration.as_duration()) => Ok(TaskOutcome::empty()),
            () = ctx.cancellation().cancelled() => Err(TaskError::Killed),
        }
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.core.flow.Sleep",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Wait for a duration.",
    slots: [],
    params: Params,
    runnable: Sleep,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{env, run, run_in};
    use saker_task::TaskError;
    use saker_task::memory::test_info;
    use serde_json::json;
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    const TY: &str = "io.kestra.plugin.core.flow.Sleep";

    #[tokio::test(start_paused = true)]
    async fn sleeps_for_the_rendered_duration() {
        let env = env();
        let start = tokio::time::Instant::now();
        run(
            &env,
            TY,
            json!({"duration": "{{ inputs.d }}"}),
            json!({"inputs": {"d": "PT90S"}}),
        )
        .await
        .unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(90));
        assert_eq!(env.logs.texts(), ["INFO Waiting for PT1M30S"]);
    }

    #[tokio::test(start_paused = true)]
    async fn cancellation_kills_it() {
        let env = env();
        let cancel = CancellationToken::new();
        let mut ctx = env.context_with_cancel(test_info("s", TY), json!({}), cancel.clone());
        let start = tokio::time::Instant::now();
        let (result, ()) = tokio::join!(run_in(&mut ctx, TY, json!({"duration": "PT1H"})), async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            cancel.cancel();
        });
        assert_eq!(result, Err(TaskError::Killed));
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }
}

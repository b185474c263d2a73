//! The worker side of a WorkingDirectory block (spec §4.1): one temporary directory, the
//! block's preparation (cache, `inputFiles`), its children run one after the other in that
//! directory, each as its own task run created here and reported with
//! [`Event::WorkerTaskRuns`], then the block's end (`outputFiles`, cache) and its release.
//!
//! Children are rendered against a local copy of the execution that gains each child as it
//! runs, so a child sees the outputs of the children before it.

use std::sync::Arc;

use saker_core::{Execution, ExecutionId, IdSource, JsonMap, StateType, TaskRun, TaskRunId};
use saker_engine::{
    BlockReleased, DynamicTaskRun, Event, TaskRunResult, WorkerTaskRuns, render_context,
    working_directory_context,
};
use saker_flow::{Flow, Task};
use saker_task::{Level, RunContext, RunServices, TaskRunInfo};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::host::{HostServices, RandomIds};
use crate::{Msg, worker};

/// Everything the block needs, captured when it is dispatched.
pub(crate) struct Block {
    pub flow: Arc<Flow>,
    pub execution: Execution,
    pub task_run_id: TaskRunId,
    pub services: RunServices,
    pub host: Arc<HostServices>,
    pub secrets: Arc<Vec<String>>,
    pub max_output_size: usize,
}

/// Sends the reports of one block.
struct Reporter {
    tx: UnboundedSender<Msg>,
    execution_id: ExecutionId,
    block: TaskRunId,
}

impl Reporter {
    fn send(&self, children: Vec<DynamicTaskRun>, released: Option<BlockReleased>) {
        let report = WorkerTaskRuns {
            task_run_id: self.block.clone(),
            children,
            released,
        };
        // A closed loop means the run is over; nothing is left to report to.
        let _ = self.tx.send(Msg::Event(
            self.execution_id.clone(),
            Event::WorkerTaskRuns(report),
        ));
    }
}

fn info(execution: &Execution, run: &TaskRun, task: &Task) -> TaskRunInfo {
    TaskRunInfo {
        execution_id: execution.id.clone(),
        task_run_id: run.id.clone(),
        task_id: task.id.clone(),
        task_type: task.canonical.to_owned(),
        namespace: execution.namespace.clone(),
        flow_id: execution.flow_id.clone(),
        value: run.value.clone(),
        attempt: run.attempts.len() as u32 + 1,
    }
}

/// Runs the block and reports it on `tx`; every path ends with one release.
pub(crate) async fn run(block: Block, cancel: CancellationToken, tx: UnboundedSender<Msg>) {
    let reporter = Reporter {
        tx: tx.clone(),
        execution_id: block.execution.id.clone(),
        block: block.task_run_id.clone(),
    };
    let failed = |outputs| {
        Some(BlockReleased {
            state: StateType::Failed,
            outputs,
        })
    };
    let mut execution = block.execution.clone();
    let block_run = execution.find_task_run(block.task_run_id.as_str()).cloned();
    let task = block_run
        .as_ref()
        .and_then(|run| block.flow.find_task(&run.task_id))
        .cloned();
    let (Some(block_run), Some(task)) = (block_run, task) else {
        reporter.send(Vec::new(), failed(None));
        return;
    };
    let dir = match tempfile::Builder::new().prefix("saker-wd-").tempdir() {
        Ok(dir) => dir,
        Err(error) => {
            let message = format!("cannot create the working directory: {error}");
            block_log(&block, &execution, &block_run, &task, &tx, message);
            reporter.send(Vec::new(), failed(None));
            return;
        }
    };
    // The block's own context: preparation and end render the block's properties.
    let block_ctx = |execution: &Execution| {
        let variables = render_context(
            &block.flow,
            execution,
            Some(&task),
            Some(&block_run),
            &*block.host,
        );
        let services = with_sink(&block, execution, &block_run, &task, &tx);
        RunContext::new(
            info(execution, &block_run, &task),
            variables,
            services,
            cancel.clone(),
        )
        .with_working_dir(dir.path())
    };
    let mut ctx = block_ctx(&execution);
    let prepared =
        match saker_tasks::tasks::working_directory::prepare(&task.params, &mut ctx, dir.path())
            .await
        {
            Ok(prepared) => prepared,
            Err(error) => {
                ctx.logger().error(format!(
                    "Failed preExecuteTasks on WorkingDirectory: {error}"
                ));
                reporter.send(Vec::new(), failed(None));
                return;
            }
        };
    drop(ctx);

    let children: Vec<&Task> = task
        .branch_tasks("tasks")
        .iter()
        .filter(|child| !child.common.disabled)
        .collect();
    let mut ids = RandomIds;
    // The report of the last child run waits for the release, so the engine never derives the
    // block's state from its children while the directory is still in use.
    let mut last: Option<DynamicTaskRun> = None;
    for child in children {
        if let Some(report) = last.take() {
            reporter.send(vec![report], None);
        }
        if cancel.is_cancelled() {
            break;
        }
        let id = ids.task_run_id();
        let now = crate::host::now();
        let mut run = TaskRun::new(id.clone(), &execution, child.id.clone(), now)
            .with_parent(Some(block_run.id.clone()))
            .with_state(StateType::Running, now);
        run.dynamic = Some(true);
        execution.add_task_run(run.clone());
        let variables = working_directory_context(
            &block.flow,
            &execution,
            &block_run,
            child,
            &run,
            &*block.host,
        );
        let (state, outputs) = match run_if(&block, child, &variables) {
            Ok(false) => {
                last = Some(report(child, id.clone(), StateType::Skipped, None));
                set_child(&mut execution, &id, StateType::Skipped, None);
                continue;
            }
            Ok(true) => {
                reporter.send(
                    vec![report(child, id.clone(), StateType::Running, None)],
                    None,
                );
                let job = worker::Job {
                    info: info(&execution, &run, child),
                    params: child.params.clone(),
                    timeout: child.common.timeout.clone(),
                    variables,
                    task_runner: saker_task::TaskRunnerDef::of(child),
                    max_output_size: block.max_output_size,
                };
                worker::attempt(
                    job,
                    &execution.id,
                    block.services.clone(),
                    block.secrets.clone(),
                    cancel.child_token(),
                    &tx,
                    Some(dir.path()),
                )
                .await
            }
            Err(message) => {
                reporter.send(
                    vec![report(child, id.clone(), StateType::Running, None)],
                    None,
                );
                let services = with_sink(&block, &execution, &run, child, &tx);
                services.log_sink.emit(saker_task::log::LogLine {
                    level: Level::Error,
                    message: format!("Failed evaluating runIf: {message}"),
                    timestamp: crate::host::now(),
                });
                (StateType::Failed, None)
            }
        };
        set_child(&mut execution, &id, state, outputs.clone());
        last = Some(report(child, id, state, outputs));
        let stops = match state {
            StateType::Failed => !child.common.allow_failure,
            StateType::Killed => true,
            _ => false,
        };
        if stops {
            break;
        }
    }

    let mut ctx = block_ctx(&execution);
    let released = match saker_tasks::tasks::working_directory::finish(
        &task.params,
        &mut ctx,
        dir.path(),
        prepared,
    )
    .await
    {
        Ok(outputs) => BlockReleased {
            state: if cancel.is_cancelled() && last.is_none() {
                StateType::Killed
            } else {
                StateType::Success
            },
            outputs,
        },
        Err(error) => {
            ctx.logger().error(format!(
                "Failed postExecuteTasks on WorkingDirectory: {error}"
            ));
            BlockReleased {
                state: StateType::Failed,
                outputs: None,
            }
        }
    };
    reporter.send(last.into_iter().collect(), Some(released));
}

fn report(
    child: &Task,
    id: TaskRunId,
    state: StateType,
    outputs: Option<JsonMap>,
) -> DynamicTaskRun {
    let result = if state == StateType::Running {
        TaskRunResult::running(id)
    } else {
        TaskRunResult::ended(id, state, outputs)
    };
    DynamicTaskRun {
        task_id: child.id.clone(),
        result,
    }
}

/// Keeps the local copy of the execution in step with what was reported.
fn set_child(
    execution: &mut Execution,
    id: &TaskRunId,
    state: StateType,
    outputs: Option<JsonMap>,
) {
    if let Some(run) = execution.find_task_run_mut(id.as_str()) {
        run.outputs = outputs;
        run.transition(state, crate::host::now());
    }
}

/// The child's `runIf` (absent: run it).
fn run_if(block: &Block, child: &Task, variables: &saker_expr::Value) -> Result<bool, String> {
    let Some(template) = &child.common.run_if else {
        return Ok(true);
    };
    let rendered = block
        .services
        .engine
        .render(template, variables, &*block.host)
        .map_err(|error| error.to_string())?;
    Ok(saker_expr::is_truthy_string(&rendered))
}

/// Services whose log sink files lines under `run`.
fn with_sink(
    block: &Block,
    execution: &Execution,
    run: &TaskRun,
    task: &Task,
    tx: &UnboundedSender<Msg>,
) -> RunServices {
    let mut services = block.services.clone();
    services.log_sink = worker::sink_for(
        tx.clone(),
        &info(execution, run, task),
        block.secrets.clone(),
    );
    services
}

fn block_log(
    block: &Block,
    execution: &Execution,
    run: &TaskRun,
    task: &Task,
    tx: &UnboundedSender<Msg>,
    message: String,
) {
    let services = with_sink(block, execution, run, task, tx);
    services.log_sink.emit(saker_task::log::LogLine {
        level: Level::Error,
        message,
        timestamp: crate::host::now(),
    });
}

//! Step 6 of the pass: a CREATED/RESTARTED task run is skipped (`runIf`), started in the
//! executor (flowable, execution-updating, executable) or sent to a worker (runnable).

use saker_core::{StateType, TaskRunId};
use saker_flow::TaskKind;

use crate::action::Action;
use crate::cx::Cx;
use crate::flowable::working_directory;
use crate::{flowable, for_each_item, subflow, updating};

pub(crate) fn dispatch(cx: &mut Cx<'_>, run_id: &TaskRunId) {
    let Some(run) = cx.run(run_id) else { return };
    let Some(task) = cx.task_of(run) else {
        let message = format!("task '{}' is not in the flow", run.task_id);
        cx.fail(run_id, message);
        return;
    };
    let resumed = run
        .state
        .histories()
        .iter()
        .any(|h| h.state == StateType::Breakpoint);
    if !resumed && cx.exec.breakpoint_for(run).is_some() {
        cx.set_state(run_id, StateType::Breakpoint);
        if cx.exec.state.current() == StateType::Running {
            cx.exec.transition(StateType::Breakpoint, cx.now);
        }
        return;
    }
    if let Some(run_if) = &task.common.run_if {
        match cx.render(run_if, Some(task), Some(run_id)) {
            Ok(rendered) if !saker_expr::is_truthy_string(&rendered) => {
                cx.set_state(run_id, StateType::Skipped);
                return;
            }
            Ok(_) => {}
            Err(message) => {
                cx.fail(run_id, format!("runIf: {message}"));
                return;
            }
        }
    }
    match task.kind {
        TaskKind::Flowable => {
            let Some(flowable) = flowable::lookup(task.canonical) else {
                cx.fail(run_id, format!("unsupported task type {}", task.canonical));
                return;
            };
            cx.set_state(run_id, StateType::Running);
            let Some(run) = cx.run(run_id).cloned() else {
                return;
            };
            match flowable.start(cx, task, &run) {
                Ok(outputs) => cx.merge_outputs(run_id, outputs),
                Err(message) => cx.fail(run_id, message),
            }
        }
        // A block without children has nothing for a worker to do; it ends as an empty
        // Sequential does.
        TaskKind::WorkingDirectory if !working_directory::has_children(task) => {
            cx.set_state(run_id, StateType::Running);
        }
        TaskKind::Runnable | TaskKind::WorkingDirectory => {
            // RUNNING as soon as it is handed over, so the next pass does not send it again;
            // the worker's first result adds the attempt.
            cx.set_state(run_id, StateType::Running);
            cx.actions.push(Action::Dispatch {
                task_run_id: run_id.clone(),
                task_id: task.id.clone(),
            });
        }
        TaskKind::ExecutionUpdating => updating::apply(cx, task, run_id),
        TaskKind::Executable if task.canonical == for_each_item::ITEMS => {
            for_each_item::start(cx, task, run_id)
        }
        TaskKind::Executable => subflow::start(cx, task, run_id),
    }
}

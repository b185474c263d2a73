//! The process pass (spec §6.3), repeated until the execution stops changing: restart, end
//! detection, killing, next task runs, listeners and afterExecution, dispatch, flowable states.

use std::rc::Rc;

use saker_core::{StateType, TaskRun, TaskRunId, format_duration};
use saker_expr::Value;
use saker_flow::{FlowOutput, Task};

use crate::action::LogLevel;
use crate::cx::Resolved;
use crate::cx::{Cx, resolve_list};
use crate::dispatch::dispatch;
use crate::flowable::{self, foreach, loop_until, pause};
use crate::inputs;
use crate::listeners;
use crate::next;
use crate::select::{self, Branches};

/// Safety net against a flowable that keeps changing the execution forever.
const MAX_PASSES: usize = 10_000;

pub(crate) fn run(cx: &mut Cx<'_>) {
    for _ in 0..MAX_PASSES {
        // Change tracking instead of a clone + compare of the whole execution per pass.
        cx.begin_step();
        pass(cx);
        if !cx.end_step() {
            return;
        }
    }
    cx.log(
        LogLevel::Error,
        None,
        format!("executor did not settle after {MAX_PASSES} passes"),
    );
}

fn top_branches<'a>(cx: &Cx<'a>) -> Branches<'a> {
    Branches {
        tasks: Some(resolve_list(&cx.flow.tasks, None)),
        errors: resolve_list(&cx.flow.errors, None),
        finally: resolve_list(&cx.flow.finally, None),
    }
}

fn pass(cx: &mut Cx<'_>) {
    // A scheduled execution stays CREATED until its date.
    if cx.exec.state.current() == StateType::Created
        && cx.exec.schedule_date.is_some_and(|at| at > cx.now)
    {
        return;
    }
    // An execution is RETRYING only while one of its task runs is.
    if cx.exec.state.current() == StateType::Retrying
        && !cx.exec.has_task_run_in(|s| s == StateType::Retrying)
    {
        cx.exec.transition(StateType::Running, cx.now);
    }

    // 1. Restart.
    if cx.exec.state.current() == StateType::Restarted {
        cx.exec.transition(StateType::Running, cx.now);
        cx.log(LogLevel::Info, None, "Flow restarted".into());
    }

    // 2. End detection.
    let state = cx.exec.state.current();
    if !state.is_terminated()
        && !state.is_paused()
        && !state.is_retrying()
        && !matches!(state, StateType::Killing | StateType::Queued)
    {
        let top = top_branches(cx);
        let (_, current) = select::select(cx.runs(), &top, None);
        if select::all_terminated(cx.runs(), current) {
            let tasks = top.tasks.as_deref().unwrap_or(&[]);
            let final_state = select::guess_final_state(cx.runs(), tasks, false, false);
            end(cx, final_state);
        }
    }

    // 3. Killing: nothing new starts, the execution is KILLED.
    if cx.exec.state.current() == StateType::Killing {
        let now = cx.now;
        let created = cx.open_runs_in(false, |r| {
            r.state.current().is_created() && r.force_execution != Some(true)
        });
        for run_id in &created {
            cx.set_state(run_id, StateType::Killed);
        }
        cx.exec.transition(StateType::Killed, now);
        cx.log(LogLevel::Info, None, "Flow killed".into());
    }

    // 4. Next task runs.
    let state = cx.exec.state.current();
    let scheduling =
        !state.is_terminated() && !matches!(state, StateType::Killing | StateType::Queued);
    if scheduling {
        let top = top_branches(cx);
        let (_, current) = select::select(cx.runs(), &top, None);
        for resolved in next::sequential(cx.runs(), current) {
            cx.create(&resolved, false);
        }
    }
    let flowables = running_flowables(cx);
    for run_id in &flowables {
        let forced = cx
            .run(run_id)
            .is_some_and(|r| r.force_execution == Some(true));
        if scheduling || forced {
            child_nexts(cx, run_id);
        }
    }

    // 5. Listeners, then afterExecution, once terminated.
    let listening =
        cx.exec.state.is_terminated() && !cx.flow.listeners.is_empty() && listeners::schedule(cx);
    if cx.exec.state.is_terminated() && !listening && !cx.flow.after_execution.is_empty() {
        let after = resolve_list(&cx.flow.after_execution, None);
        for resolved in next::sequential(cx.runs(), &after) {
            cx.create(&resolved, true);
        }
    }

    // 6. Dispatch.
    let killed = matches!(
        cx.exec.state.current(),
        StateType::Killing | StateType::Killed
    );
    for run_id in cx.open_runs_in(false, |r| r.state.current().is_created()) {
        let forced = cx
            .run(&run_id)
            .is_some_and(|r| r.force_execution == Some(true));
        if killed && !forced {
            cx.set_state(&run_id, StateType::Killed);
        } else {
            dispatch(cx, &run_id);
        }
    }

    // 7. Flowable states, innermost (latest) first.
    for run_id in running_flowables(cx).iter().rev() {
        settle(cx, run_id);
    }
}

fn running_flowables(cx: &Cx<'_>) -> Vec<TaskRunId> {
    cx.open_runs_in(true, |run| {
        run.state.current().is_running()
            && cx.index.task(&run.task_id).is_some_and(|t| t.is_flowable())
    })
}

fn child_nexts(cx: &mut Cx<'_>, run_id: &TaskRunId) {
    let Some(run) = cx.run(run_id).cloned() else {
        return;
    };
    if run.state.current() == StateType::Killing {
        return;
    }
    let Some(task) = cx.task_of(&run) else { return };
    let Some(flowable) = flowable::lookup(task.canonical) else {
        return;
    };
    if task.canonical == flowable::PAUSE && !pause::was_paused(&run) {
        return;
    }
    let result = match foreach::fast_next(cx, task, &run) {
        Some(fast) => {
            #[cfg(debug_assertions)]
            if crate::memo::checked(cx.exec.task_run_list.len()) {
                let general = general_next(cx, flowable, task, &run);
                assert_eq!(keys(&fast), keys(&general), "ForEach fast path differs");
            }
            fast
        }
        None => general_next(cx, flowable, task, &run),
    };
    match result {
        Ok(nexts) => {
            for resolved in nexts {
                cx.create(&resolved, run.force_execution == Some(true));
            }
        }
        Err(message) => cx.fail(run_id, message),
    }
}

fn general_next<'a>(
    cx: &mut Cx<'a>,
    flowable: &dyn flowable::Flowable,
    task: &'a Task,
    run: &TaskRun,
) -> Result<Vec<Resolved<'a>>, String> {
    branches_of(cx, flowable, task, run).and_then(|branches| {
        let (which, current) = select::select(cx.runs(), &branches, None);
        flowable.next(cx, task, which, current)
    })
}

fn general_state<'a>(
    cx: &mut Cx<'a>,
    flowable: &dyn flowable::Flowable,
    task: &'a Task,
    run: &TaskRun,
) -> Result<Option<StateType>, String> {
    branches_of(cx, flowable, task, run).map(|b| flowable.resolve_state(cx, task, &b))
}

/// What the fast path is checked against in debug builds.
#[cfg(debug_assertions)]
type Key = (String, Option<String>, Option<i32>, Option<TaskRunId>);

#[cfg(debug_assertions)]
fn keys(result: &Result<Vec<Resolved<'_>>, String>) -> Result<Vec<Key>, String> {
    result.clone().map(|list| {
        list.into_iter()
            .map(|r| (r.task.id.clone(), r.value, r.iteration, r.parent))
            .collect()
    })
}

/// The branches of a flowable run, computed once per `apply` when they are static.
fn branches_of<'a>(
    cx: &mut Cx<'a>,
    flowable: &dyn flowable::Flowable,
    task: &'a Task,
    run: &TaskRun,
) -> Result<Rc<Branches<'a>>, String> {
    if let Some(branches) = cx.branch_cache.get(&run.id) {
        return Ok(branches.clone());
    }
    let branches = Rc::new(flowable.branches(cx, task, run)?);
    if flowable.static_branches(task) {
        cx.branch_cache.insert(run.id.clone(), branches.clone());
    }
    Ok(branches)
}

fn settle(cx: &mut Cx<'_>, run_id: &TaskRunId) {
    let Some(run) = cx.run(run_id).cloned() else {
        return;
    };
    let Some(task) = cx.task_of(&run) else { return };
    let killing = matches!(
        cx.exec.state.current(),
        StateType::Killing | StateType::Killed
    ) && run.force_execution != Some(true);
    if killing && run.state.current() == StateType::Running {
        cx.set_state(run_id, StateType::Killing);
    }
    if cx
        .run(run_id)
        .is_some_and(|r| r.state.current() == StateType::Killing)
    {
        if cx.children_terminated(run_id) {
            cx.set_state(run_id, StateType::Killed);
        }
        return;
    }
    let Some(flowable) = flowable::lookup(task.canonical) else {
        return;
    };
    if task.canonical == flowable::PAUSE && !pause::was_paused(&run) {
        pause::begin(cx, task, run_id);
        return;
    }
    if task.canonical == flowable::LOOP_UNTIL {
        loop_until::settle(cx, task, run_id);
        return;
    }
    let state = match foreach::fast_state(cx, task, &run) {
        Some(fast) => {
            if crate::memo::checked(cx.exec.task_run_list.len()) {
                let general = general_state(cx, flowable, task, &run);
                assert_eq!(Ok(fast), general, "ForEach fast path differs");
            }
            Ok(fast)
        }
        None => general_state(cx, flowable, task, &run),
    };
    match state {
        Ok(Some(state)) => {
            cx.set_state(run_id, state);
            cx.force_descendants(run_id, state);
        }
        Ok(None) => {}
        Err(message) => cx.fail(run_id, message),
    }
}

/// The execution ends: flow outputs are rendered (a failure fails the execution), then the
/// final state is set and logged.
fn end(cx: &mut Cx<'_>, mut state: StateType) {
    if !cx.flow.outputs.is_empty() {
        match render_outputs(cx, &cx.flow.outputs) {
            Ok(outputs) => cx.exec.outputs = outputs,
            Err(message) => {
                cx.log(
                    LogLevel::Error,
                    None,
                    format!("Failed to render output values: {message}"),
                );
                state = StateType::Failed;
            }
        }
    }
    cx.exec.transition(state, cx.now);
    let duration = cx
        .exec
        .state
        .duration()
        .map(format_duration)
        .unwrap_or_default();
    cx.log(
        LogLevel::Info,
        None,
        format!("Flow completed with state {state} in {duration}"),
    );
}

/// Flow outputs (spec §1.7): required ones must render; optional ones become null on error.
fn render_outputs(cx: &Cx<'_>, outputs: &[FlowOutput]) -> Result<saker_core::JsonMap, String> {
    let mut rendered = saker_core::JsonMap::new();
    for output in outputs {
        let value = cx.render_value(&output.value, None, None).and_then(|v| {
            // Typed like an input of its type (spec §1.7); SECRET ones encrypted with the
            // host's key.
            inputs::type_output(output, v, &inputs::ServicesHost(cx.services))
                .map_err(|e| e.message)
        });
        match value {
            Ok(value) => {
                rendered.insert(output.id.clone(), value);
            }
            Err(message) if output.required => return Err(format!("{}: {message}", output.id)),
            Err(_) => {
                rendered.insert(output.id.clone(), Value::Null);
            }
        }
    }
    Ok(rendered)
}

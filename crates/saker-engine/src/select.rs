//! Branch selection between a level's `tasks`, `errors` and `finally` (spec §6.4), the final
//! state guess (§6.9) and the generic flowable state resolution.

#[cfg(test)]
use saker_core::Execution;
use saker_core::{StateType, TaskRun};

use crate::cx::Resolved;
use crate::runs::Runs;

/// Which list of a level is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Tasks,
    Errors,
    Finally,
}

/// The three lists of one level. `tasks` is `None` when the flowable found no branch to run
/// (a Switch without a matching case nor defaults).
#[derive(Debug, Clone)]
pub(crate) struct Branches<'a> {
    pub(crate) tasks: Option<Vec<Resolved<'a>>>,
    pub(crate) errors: Vec<Resolved<'a>>,
    pub(crate) finally: Vec<Resolved<'a>>,
}

/// Runs matching any resolved task of `list`, in creation order.
pub(crate) fn runs_of<'e>(exec: impl Into<Runs<'e>>, list: &[Resolved<'_>]) -> Vec<&'e TaskRun> {
    let runs: Runs<'e> = exec.into();
    let list_runs = &runs.exec.task_run_list;
    let position = |run: &TaskRun| run as *const TaskRun as usize - list_runs.as_ptr() as usize;
    let mut found: Vec<&'e TaskRun> = list.iter().flat_map(|r| runs.matching(r)).collect();
    // Creation order, each run once; resolved lists usually follow creation order already.
    if !found.windows(2).all(|w| position(w[0]) < position(w[1])) {
        found.sort_by_key(|run| position(run));
        found.dedup_by(|a, b| std::ptr::eq(*a, *b));
    }
    found
}

/// Every resolved task has a terminated run.
pub(crate) fn all_terminated<'e>(exec: impl Into<Runs<'e>>, list: &[Resolved<'_>]) -> bool {
    let runs: Runs<'e> = exec.into();
    list.iter()
        .all(|r| runs.matching(r).any(|run| run.state.is_terminated()))
}

pub(crate) fn any_run(runs: Runs<'_>, list: &[Resolved<'_>]) -> bool {
    list.iter().any(|r| runs.matching(r).next().is_some())
}

/// Whether a run of `list` satisfies `check` (like `runs_of(..).iter().any(..)`, without
/// collecting and ordering every run first).
fn any_run_where(runs: Runs<'_>, list: &[Resolved<'_>], check: impl Fn(&TaskRun) -> bool) -> bool {
    list.iter().any(|r| runs.matching(r).any(&check))
}

/// Kestra's `findTaskDependingFlowState`: the list that runs now.
/// The list is borrowed from `branches`: copying a ForEach's whole list on every call was a
/// large part of each pass.
pub(crate) fn select<'a, 'b, 'e>(
    exec: impl Into<Runs<'e>>,
    branches: &'b Branches<'a>,
    forced: Option<StateType>,
) -> (Which, &'b [Resolved<'a>]) {
    let exec: Runs<'e> = exec.into();
    let tasks = branches.tasks.as_deref().unwrap_or(&[]);
    let (errors, finally) = (&branches.errors, &branches.finally);
    if any_run(exec, finally) {
        return (Which::Finally, finally);
    }
    let errors_started = any_run(exec, errors);
    if !errors_started && forced == Some(StateType::Failed) {
        return if errors.is_empty() {
            (Which::Finally, finally)
        } else {
            (Which::Errors, errors)
        };
    }
    let tasks_failed = any_run_where(exec, tasks, |run| run.state.current().is_failed());
    // A failed run waiting for its retry is RETRYING (not FAILED) here: retries are decided
    // when the result arrives, so the "wait for the retry" case of Kestra cannot occur.
    if errors_started || tasks_failed {
        if !finally.is_empty() && !errors.is_empty() && !all_terminated(exec, errors) {
            return (Which::Errors, errors);
        }
        if finally.is_empty() {
            return (Which::Errors, errors);
        }
    }
    if !finally.is_empty() && (all_terminated(exec, tasks) || tasks_failed) {
        return (Which::Finally, finally);
    }
    (Which::Tasks, tasks)
}

/// Kestra's `guessFinalState` over the runs of `list`, then the `allowFailure` /
/// `allowWarning` mapping of the owning flowable.
pub(crate) fn guess_final_state<'e>(
    exec: impl Into<Runs<'e>>,
    list: &[Resolved<'_>],
    allow_failure: bool,
    allow_warning: bool,
) -> StateType {
    let runs = runs_of(exec, list);
    let has = |state: StateType| runs.iter().any(|run| run.state.current() == state);
    let mut state = if has(StateType::Killed) {
        StateType::Killed
    } else if has(StateType::Failed) {
        StateType::Failed
    } else if has(StateType::Warning) {
        StateType::Warning
    } else if has(StateType::Paused) {
        StateType::Paused
    } else {
        StateType::Success
    };
    if state == StateType::Failed && allow_failure {
        state = StateType::fail(true, allow_warning);
    }
    if state == StateType::Warning && allow_warning {
        state = StateType::Success;
    }
    state
}

/// Kestra's `FlowableUtils.resolveState`: the terminal state of a flowable, or `None` while it
/// is still in progress. Derived from the main children only.
pub(crate) fn resolve_state<'e>(
    exec: impl Into<Runs<'e>>,
    branches: &Branches<'_>,
    allow_failure: bool,
    allow_warning: bool,
    forced: Option<StateType>,
) -> Option<StateType> {
    let exec: Runs<'e> = exec.into();
    let Some(tasks) = &branches.tasks else {
        return Some(StateType::fail(allow_failure, allow_warning));
    };
    // A child waiting for its retry keeps the flowable open (spec §6.5).
    if any_run_where(exec, tasks, |run| {
        run.state.current() == StateType::Retrying
    }) {
        return None;
    }
    let (_, current) = select(exec, branches, forced);
    if !current.is_empty() {
        return all_terminated(exec, current)
            .then(|| guess_final_state(exec, tasks, allow_failure, allow_warning));
    }
    let failed = forced == Some(StateType::Failed)
        || any_run_where(exec, tasks, |run| run.state.current().is_failed());
    // No children at all (all disabled, empty ForEach, If false without else) ends at once.
    (failed || tasks.is_empty())
        .then(|| guess_final_state(exec, tasks, allow_failure, allow_warning))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use saker_core::{ExecutionId, FlowRef, Instant, TaskRun, TaskRunId};
    use saker_flow::{Task, TaskCommon, TaskKind};

    use super::*;

    fn now() -> Instant {
        Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).unwrap()
    }

    fn task(id: &str) -> Task {
        Task {
            id: id.into(),
            type_name: "Log".into(),
            canonical: "io.kestra.plugin.core.log.Log",
            kind: TaskKind::Runnable,
            common: TaskCommon::default(),
            params: Default::default(),
            branches: Vec::new(),
            plugins: Vec::new(),
            path: String::new(),
            unresolved: None,
        }
    }

    fn resolved(task: &Task) -> Resolved<'_> {
        Resolved {
            task,
            value: None,
            iteration: None,
            parent: None,
        }
    }

    fn exec_with(states: &[(&str, StateType)]) -> Execution {
        let mut exec = Execution::new(
            ExecutionId::new("e"),
            &FlowRef::new("ns", "f", 1),
            &[],
            Vec::new(),
            now(),
        );
        for (id, state) in states {
            let run =
                TaskRun::new(TaskRunId::new(*id), &exec, *id, now()).with_state(*state, now());
            exec.add_task_run(run);
        }
        exec
    }

    #[test]
    fn select_switches_to_errors_then_finally() {
        let (t, e, f) = (task("t"), task("e"), task("f"));
        let branches = Branches {
            tasks: Some(vec![resolved(&t)]),
            errors: vec![resolved(&e)],
            finally: vec![resolved(&f)],
        };
        let pick = |states: &[(&str, StateType)]| select(&exec_with(states), &branches, None).0;
        assert_eq!(pick(&[("t", StateType::Running)]), Which::Tasks);
        assert_eq!(pick(&[("t", StateType::Success)]), Which::Finally);
        assert_eq!(pick(&[("t", StateType::Failed)]), Which::Errors);
        assert_eq!(
            pick(&[("t", StateType::Failed), ("e", StateType::Success)]),
            Which::Finally
        );
        // A forced failure (Pause FAIL) goes to errors even with no failed run.
        assert_eq!(
            select(&exec_with(&[]), &branches, Some(StateType::Failed)).0,
            Which::Errors
        );
    }

    #[test]
    fn guess_final_state_precedence_and_mapping() {
        let (a, b) = (task("a"), task("b"));
        let list = [resolved(&a), resolved(&b)];
        let guess = |states: &[(&str, StateType)], af, aw| {
            guess_final_state(&exec_with(states), &list, af, aw)
        };
        use StateType::*;
        assert_eq!(guess(&[("a", Failed), ("b", Killed)], false, false), Killed);
        assert_eq!(
            guess(&[("a", Warning), ("b", Failed)], false, false),
            Failed
        );
        assert_eq!(
            guess(&[("a", Skipped), ("b", Success)], false, false),
            Success
        );
        assert_eq!(guess(&[("a", Failed)], true, false), Warning);
        assert_eq!(guess(&[("a", Failed)], true, true), Success);
        assert_eq!(guess(&[("a", Warning)], false, true), Success);
    }
}

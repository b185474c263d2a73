//! Which child task runs to create next (spec §6.3): sequential, parallel (also Dag) and
//! concurrent value groups (ForEach with `concurrencyLimit` ≠ 1).

use saker_core::Execution;

use crate::cx::Resolved;
use crate::select::{Which, runs_of};

/// `resolveSequentialNexts`: the first resolved task without a run, once every earlier one is
/// terminated. Any non-terminated run (created, running, paused, retrying…) blocks.
pub(crate) fn sequential<'a>(exec: &Execution, current: &[Resolved<'a>]) -> Vec<Resolved<'a>> {
    for resolved in current {
        let mut runs = exec
            .task_run_list
            .iter()
            .filter(|run| resolved.matches(run));
        match runs.next() {
            None => return vec![resolved.clone()],
            Some(run) if !run.state.is_terminated() => return Vec::new(),
            Some(_) => {}
        }
    }
    Vec::new()
}

/// `resolveParallelNexts`: every not-yet-created task accepted by `ready`, up to
/// `concurrent - running` (0 = unlimited), and only when no run is still CREATED.
/// Errors/finally lists always run sequentially.
pub(crate) fn parallel<'a>(
    exec: &Execution,
    which: Which,
    current: &[Resolved<'a>],
    concurrent: usize,
    ready: &dyn Fn(&Resolved<'a>) -> bool,
) -> Vec<Resolved<'a>> {
    if which != Which::Tasks {
        return sequential(exec, current);
    }
    let runs = runs_of(exec, current);
    if runs.iter().any(|run| run.state.current().is_created()) {
        return Vec::new();
    }
    let running = runs
        .iter()
        .filter(|run| run.state.current().is_running())
        .count();
    if concurrent > 0 && running >= concurrent {
        return Vec::new();
    }
    let limit = if concurrent > 0 {
        concurrent - running
    } else {
        usize::MAX
    };
    current
        .iter()
        .filter(|r| !runs.iter().any(|run| r.matches(run)) && ready(r))
        .take(limit)
        .cloned()
        .collect()
}

/// `resolveConcurrentNexts`: group by value; start up to `limit - non-terminated` groups, each
/// sequential inside (0 = unlimited).
pub(crate) fn concurrent_values<'a>(
    exec: &Execution,
    which: Which,
    current: &[Resolved<'a>],
    limit: usize,
) -> Vec<Resolved<'a>> {
    if which != Which::Tasks {
        return sequential(exec, current);
    }
    let non_terminated = runs_of(exec, current)
        .iter()
        .filter(|run| !run.state.is_terminated())
        .count();
    if limit > 0 && non_terminated >= limit {
        return Vec::new();
    }
    let slots = if limit > 0 {
        limit - non_terminated
    } else {
        usize::MAX
    };
    let mut groups: Vec<(Option<String>, Vec<Resolved<'a>>)> = Vec::new();
    for resolved in current {
        match groups
            .iter_mut()
            .find(|(value, _)| *value == resolved.value)
        {
            Some((_, group)) => group.push(resolved.clone()),
            None => groups.push((resolved.value.clone(), vec![resolved.clone()])),
        }
    }
    groups
        .iter()
        .filter_map(|(_, group)| sequential(exec, group).into_iter().next())
        .take(slots)
        .collect()
}

//! Which child task runs to create next (spec §6.3): sequential, parallel (also Dag) and
//! concurrent value groups (ForEach with `concurrencyLimit` ≠ 1).

use crate::cx::Resolved;
use crate::runs::Runs;
use crate::select::{Which, runs_of};

/// `resolveSequentialNexts`: the first resolved task without a run, once every earlier one is
/// terminated. Any non-terminated run (created, running, paused, retrying…) blocks.
pub(crate) fn sequential<'a, 'e>(
    exec: impl Into<Runs<'e>>,
    current: &[Resolved<'a>],
) -> Vec<Resolved<'a>> {
    let exec: Runs<'e> = exec.into();
    for resolved in current {
        match exec.matching(resolved).next() {
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
pub(crate) fn parallel<'a, 'e>(
    exec: impl Into<Runs<'e>>,
    which: Which,
    current: &[Resolved<'a>],
    concurrent: usize,
    ready: &dyn Fn(&Resolved<'a>) -> bool,
) -> Vec<Resolved<'a>> {
    let exec: Runs<'e> = exec.into();
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
        .filter(|r| exec.matching(r).next().is_none() && ready(r))
        .take(limit)
        .cloned()
        .collect()
}

/// `resolveConcurrentNexts`: group by value; start up to `limit - non-terminated` groups, each
/// sequential inside (0 = unlimited).
pub(crate) fn concurrent_values<'a, 'e>(
    exec: impl Into<Runs<'e>>,
    which: Which,
    current: &[Resolved<'a>],
    limit: usize,
) -> Vec<Resolved<'a>> {
    let exec: Runs<'e> = exec.into();
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
    // Groups as positions in `current` (value → group via a map): cloning every resolved task
    // into groups, and a linear search per task, made large ForEach quadratic per pass.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of: std::collections::HashMap<Option<&str>, usize> =
        std::collections::HashMap::new();
    for (position, resolved) in current.iter().enumerate() {
        match group_of.get(&resolved.value.as_deref()) {
            Some(&at) => groups[at].push(position),
            None => {
                group_of.insert(resolved.value.as_deref(), groups.len());
                groups.push(vec![position]);
            }
        }
    }
    groups
        .iter()
        .filter_map(|group| first_next(exec, group.iter().map(|&p| &current[p])))
        .take(slots)
        .collect()
}

/// [`sequential`]'s first next task over any sequence of resolved tasks.
fn first_next<'a, 'r>(
    exec: Runs<'_>,
    group: impl Iterator<Item = &'r Resolved<'a>>,
) -> Option<Resolved<'a>>
where
    'a: 'r,
{
    for resolved in group {
        match exec.matching(resolved).next() {
            None => return Some(resolved.clone()),
            Some(run) if !run.state.is_terminated() => return None,
            Some(_) => {}
        }
    }
    None
}

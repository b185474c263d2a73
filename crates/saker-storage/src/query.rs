//! Search queries and the records the server keeps beside executions: [`ExecutionQuery`],
//! [`LogSearch`], [`Page`] (Kestra's `{results, total}`) and [`TriggerRecord`] (a trigger's
//! scheduling state and its lease).

use saker_core::{Execution, Instant, Label, StateType};
use saker_task::Level;

use crate::LogEntry;

/// One page of a search: Kestra's `PagedResults` (`{results, total}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub results: Vec<T>,
    /// How many items match the query over all pages.
    pub total: u64,
}

/// Paging: `page` is 1-based (Kestra's API); `size` 0 means "no limit".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: u32,
    pub size: u32,
}

impl Default for Paging {
    fn default() -> Self {
        Paging { page: 1, size: 10 }
    }
}

impl Paging {
    /// How many items to skip and take.
    pub fn window(self) -> (usize, Option<usize>) {
        if self.size == 0 {
            return (0, None);
        }
        let skip = (self.page.max(1) as usize - 1) * self.size as usize;
        (skip, Some(self.size as usize))
    }

    /// Applies the window to an already sorted, filtered list.
    pub fn apply<T>(self, items: Vec<T>) -> Page<T> {
        let total = items.len() as u64;
        let (skip, take) = self.window();
        let results = items
            .into_iter()
            .skip(skip)
            .take(take.unwrap_or(usize::MAX))
            .collect();
        Page { results, total }
    }
}

/// Which executions `/executions/search` returns. Every set field must match; results are
/// sorted newest first by the state's start date (Kestra's default sort), then by id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecutionQuery {
    /// The namespace or any of its children (`a.b` matches `a.b` and `a.b.c`, not `a.bc`).
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    /// Any of these current states (empty: all).
    pub states: Vec<StateType>,
    /// All of these labels.
    pub labels: Vec<Label>,
    /// Started at or after.
    pub start_from: Option<Instant>,
    /// Started strictly before.
    pub start_to: Option<Instant>,
    /// Direct children of this execution.
    pub parent_id: Option<String>,
    /// Case-insensitive substring of the id, namespace or flow id.
    pub text: Option<String>,
    /// Include soft-deleted executions (never by default).
    pub include_deleted: bool,
    pub paging: Paging,
}

fn namespace_matches(wanted: &str, namespace: &str) -> bool {
    namespace == wanted
        || namespace
            .strip_prefix(wanted)
            .is_some_and(|rest| rest.starts_with('.'))
}

impl ExecutionQuery {
    /// Whether `execution` matches every filter except paging (backends that cannot express a
    /// filter in their query language apply this one).
    pub fn matches(&self, execution: &Execution) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| namespace_matches(ns, &execution.namespace))
            && self
                .flow_id
                .as_deref()
                .is_none_or(|id| id == execution.flow_id)
            && (self.states.is_empty() || self.states.contains(&execution.state.current()))
            && self.labels.iter().all(|l| execution.labels.contains(l))
            && self
                .start_from
                .is_none_or(|from| execution.state.start_date() >= from)
            && self
                .start_to
                .is_none_or(|to| execution.state.start_date() < to)
            && self.parent_id.as_deref().is_none_or(|p| {
                execution
                    .parent_id
                    .as_ref()
                    .is_some_and(|id| id.as_str() == p)
            })
            && self.text.as_deref().is_none_or(|text| {
                let text = text.to_lowercase();
                [
                    execution.id.as_str(),
                    execution.namespace.as_str(),
                    execution.flow_id.as_str(),
                ]
                .iter()
                .any(|field| field.to_lowercase().contains(&text))
            })
            && (self.include_deleted || !execution.deleted)
    }
}

/// Orders executions as every search returns them: newest start first, then id.
pub fn sort_executions(executions: &mut [Execution]) {
    executions.sort_by(|a, b| {
        b.state
            .start_date()
            .cmp(&a.state.start_date())
            .then_with(|| a.id.as_str().cmp(b.id.as_str()))
    });
}

/// Which log lines `/logs/search` returns; results are in insertion order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogSearch {
    /// The namespace or any of its children.
    pub namespace: Option<String>,
    pub flow_id: Option<String>,
    pub execution_id: Option<String>,
    pub task_id: Option<String>,
    /// Minimum level.
    pub min_level: Option<Level>,
    /// At or after.
    pub from: Option<Instant>,
    /// Strictly before.
    pub to: Option<Instant>,
    /// Case-insensitive substring of the message.
    pub text: Option<String>,
    pub paging: Paging,
}

impl LogSearch {
    pub fn matches(&self, entry: &LogEntry) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| namespace_matches(ns, &entry.namespace))
            && self.flow_id.as_deref().is_none_or(|id| id == entry.flow_id)
            && self
                .execution_id
                .as_deref()
                .is_none_or(|id| id == entry.execution_id)
            && self
                .task_id
                .as_deref()
                .is_none_or(|id| entry.task_id.as_deref() == Some(id))
            && self.min_level.is_none_or(|min| entry.level >= min)
            && self.from.is_none_or(|from| entry.timestamp >= from)
            && self.to.is_none_or(|to| entry.timestamp < to)
            && self
                .text
                .as_deref()
                .is_none_or(|text| entry.message.to_lowercase().contains(&text.to_lowercase()))
    }
}

/// Identifies a trigger of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TriggerKey {
    pub namespace: String,
    pub flow_id: String,
    pub trigger_id: String,
}

/// What the scheduler keeps about one trigger between evaluations (Kestra's `Trigger`
/// document): when it fires next, whether it is disabled, its backfill and evaluation context
/// (kept as JSON so the scheduler can grow it without migrations), and the lease that makes one
/// scheduler at a time evaluate it. A lease is a time, not a flag: a scheduler that dies while
/// holding it loses it when it expires, so a trigger is never stuck locked.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerRecord {
    pub key: TriggerKey,
    pub next_execution_date: Option<Instant>,
    pub disabled: bool,
    /// The scheduler's own state: backfill, last execution id, condition windows...
    pub context: serde_json::Value,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Instant>,
    pub updated: Instant,
}

/// What a purge applies to: a namespace and its children, or one flow (Kestra's
/// `PurgeExecutions`: "if flowId isn't provided, this is a namespace prefix, else the namespace
/// of the flow").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub namespace: String,
    pub flow_id: Option<String>,
}

impl Scope {
    pub fn matches(&self, namespace: &str, flow_id: &str) -> bool {
        match &self.flow_id {
            Some(flow) => self.namespace == namespace && flow == flow_id,
            None => namespace_matches(&self.namespace, namespace),
        }
    }

    /// Whether every execution of `self` is also in `outer` and the two differ: `self` is the
    /// more specific of two retention rules.
    pub fn is_inside(&self, outer: &Scope) -> bool {
        if self == outer {
            return false;
        }
        match (&outer.flow_id, &self.flow_id) {
            (Some(_), _) => false,
            (None, _) => namespace_matches(&outer.namespace, &self.namespace),
        }
    }
}

/// Which ended executions [`Store::purge_executions`](crate::Store::purge_executions) deletes.
/// Executions that have not ended (CREATED, RUNNING, PAUSED, QUEUED...) are never purged,
/// whatever `states` says.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionPurge {
    /// Only executions in this scope (all when `None`).
    pub scope: Option<Scope>,
    /// Executions in these scopes are left alone (the more specific retention rules).
    pub except: Vec<Scope>,
    /// Started at or after.
    pub start_from: Option<Instant>,
    /// Ended strictly before.
    pub end_before: Instant,
    /// Only these states (empty: every terminated state).
    pub states: Vec<StateType>,
    /// Delete the executions' log lines too.
    pub logs: bool,
    /// Delete the executions' metrics too.
    pub metrics: bool,
}

impl ExecutionPurge {
    /// Every ended execution (and its logs and metrics) that ended before `end_before`.
    pub fn ended_before(end_before: Instant) -> Self {
        ExecutionPurge {
            scope: None,
            except: Vec::new(),
            start_from: None,
            end_before,
            states: Vec::new(),
            logs: true,
            metrics: true,
        }
    }

    /// The states that may be purged: `states` when given, never a non-terminated one.
    pub fn purged_states(&self) -> Vec<StateType> {
        StateType::terminated_types()
            .filter(|state| self.states.is_empty() || self.states.contains(state))
            .collect()
    }

    pub fn matches(&self, execution: &Execution) -> bool {
        let state = execution.state.current();
        self.purged_states().contains(&state)
            && execution
                .state
                .end_date()
                .is_some_and(|end| end < self.end_before)
            && self
                .start_from
                .is_none_or(|from| execution.state.start_date() >= from)
            && self
                .scope
                .as_ref()
                .is_none_or(|s| s.matches(&execution.namespace, &execution.flow_id))
            && !self
                .except
                .iter()
                .any(|s| s.matches(&execution.namespace, &execution.flow_id))
    }
}

/// An execution removed by a purge: what the caller needs to delete its internal-storage files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgedExecution {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
}

/// Which log lines [`Store::purge_logs`](crate::Store::purge_logs) deletes (Kestra's
/// `PurgeLogs` filters).
#[derive(Debug, Clone, PartialEq)]
pub struct LogPurge {
    pub scope: Option<Scope>,
    pub except: Vec<Scope>,
    pub execution_id: Option<String>,
    /// Only these levels (empty: all).
    pub levels: Vec<Level>,
    /// At or after.
    pub from: Option<Instant>,
    /// Strictly before.
    pub before: Instant,
}

impl LogPurge {
    pub fn before(before: Instant) -> Self {
        LogPurge {
            scope: None,
            except: Vec::new(),
            execution_id: None,
            levels: Vec::new(),
            from: None,
            before,
        }
    }

    pub fn matches(&self, entry: &LogEntry) -> bool {
        entry.timestamp < self.before
            && self.from.is_none_or(|from| entry.timestamp >= from)
            && (self.levels.is_empty() || self.levels.contains(&entry.level))
            && self
                .execution_id
                .as_deref()
                .is_none_or(|id| id == entry.execution_id)
            && self
                .scope
                .as_ref()
                .is_none_or(|s| s.matches(&entry.namespace, &entry.flow_id))
            && !self
                .except
                .iter()
                .any(|s| s.matches(&entry.namespace, &entry.flow_id))
    }
}

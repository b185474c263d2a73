//! [`MemoryStore`]: the in-memory [`Store`]. Executions are kept the way the SQL backends keep
//! them, a header plus one row per task run, so a save touches only the changed rows.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use saker_core::{Execution, ExecutionId, TaskRun, TaskRunId};

use saker_core::Instant;

use crate::{
    Changed, Error, ExecutionPurge, ExecutionQuery, FlowRecord, LogEntry, LogFilter, LogPurge,
    LogSearch, MetricEntry, MetricQuery, Page, PurgedExecution, Result, Store, TriggerKey,
    TriggerRecord, sort_executions,
};

/// An execution as stored: the header (with an empty task-run list) and its task runs in order.
struct StoredExecution {
    header: Execution,
    order: Vec<TaskRunId>,
    runs: HashMap<TaskRunId, TaskRun>,
}

#[derive(Default)]
struct Inner {
    /// `(namespace, id)` → revisions, oldest first.
    flows: BTreeMap<(String, String), Vec<FlowRecord>>,
    executions: HashMap<ExecutionId, StoredExecution>,
    logs: Vec<LogEntry>,
    metrics: Vec<MetricEntry>,
    triggers: BTreeMap<TriggerKey, TriggerRecord>,
    /// Saves of executions in this namespace fail ([`MemoryStore::refuse_saves_in`]).
    refused_namespace: Option<String>,
}

impl Inner {
    /// Why saving `execution` would fail: a refused namespace, a changed run not in its list.
    fn check_save(&self, execution: &Execution, changed: &Changed) -> Result<()> {
        if self.refused_namespace.as_deref() == Some(execution.namespace.as_str()) {
            return Err(Error::Backend(format!(
                "saves in namespace {} are refused",
                execution.namespace
            )));
        }
        let Changed::TaskRuns(ids) = changed else {
            return Ok(());
        };
        if !self.executions.contains_key(&execution.id) {
            return Ok(());
        }
        match ids
            .iter()
            .zip(changed_runs(execution, ids))
            .find(|(_, run)| run.is_none())
        {
            Some((id, _)) => Err(Error::NotFound(format!(
                "task run {} in the execution",
                id.as_str()
            ))),
            None => Ok(()),
        }
    }

    /// Writes an execution checked by [`Inner::check_save`].
    fn write_execution(&mut self, execution: &Execution, changed: &Changed) {
        let header = execution.header();
        match (self.executions.get_mut(&execution.id), changed) {
            (Some(stored), Changed::TaskRuns(ids)) => {
                stored.header = header;
                for run in changed_runs(execution, ids).into_iter().flatten() {
                    let id = run.id.clone();
                    if stored.runs.insert(id.clone(), run.clone()).is_none() {
                        stored.order.push(id);
                    }
                }
            }
            (Some(_), Changed::All) | (None, _) => {
                let stored = StoredExecution {
                    header,
                    order: execution
                        .task_run_list
                        .iter()
                        .map(|r| r.id.clone())
                        .collect(),
                    runs: execution
                        .task_run_list
                        .iter()
                        .map(|r| (r.id.clone(), r.clone()))
                        .collect(),
                };
                self.executions.insert(execution.id.clone(), stored);
            }
        }
    }
}

/// The runs of `execution` a delta names, in its order (`None`: not in the list).
fn changed_runs<'a>(execution: &'a Execution, ids: &[TaskRunId]) -> Vec<Option<&'a TaskRun>> {
    let list = &execution.task_run_list;
    // A few changed runs (the usual delta) are found from the end, where new and active runs
    // are; indexing the whole list per save was O(task runs) per event.
    if ids.len() <= 8 {
        return ids
            .iter()
            .map(|id| list.iter().rev().find(|run| run.id == *id))
            .collect();
    }
    let by_id: HashMap<&TaskRunId, &TaskRun> = list.iter().map(|run| (&run.id, run)).collect();
    ids.iter().map(|id| by_id.get(id).copied()).collect()
}

impl StoredExecution {
    fn assemble(&self) -> Execution {
        let mut execution = self.header.clone();
        execution.task_run_list = self
            .order
            .iter()
            .filter_map(|id| self.runs.get(id).cloned())
            .collect();
        execution
    }
}

/// Everything in one mutex: operations are short and never held across an await.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every save of an execution in `namespace` fail (`None`: none fails), as a
    /// database refusing a commit would: for tests of the callers' failure paths.
    pub fn refuse_saves_in(&self, namespace: Option<&str>) {
        self.lock().refused_namespace = namespace.map(str::to_owned);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for MemoryStore {
    async fn put_flow(&self, namespace: &str, id: &str, source: &str) -> Result<FlowRecord> {
        let mut inner = self.lock();
        let revisions = inner
            .flows
            .entry((namespace.to_owned(), id.to_owned()))
            .or_default();
        if let Some(last) = revisions.last()
            && last.source == source
            && !last.deleted
        {
            return Ok(last.clone());
        }
        let record = FlowRecord {
            namespace: namespace.to_owned(),
            id: id.to_owned(),
            revision: revisions.last().map_or(1, |last| last.revision + 1),
            source: source.to_owned(),
            deleted: false,
        };
        revisions.push(record.clone());
        Ok(record)
    }

    async fn get_flow(
        &self,
        namespace: &str,
        id: &str,
        revision: Option<u32>,
    ) -> Result<Option<FlowRecord>> {
        let inner = self.lock();
        let Some(revisions) = inner.flows.get(&(namespace.to_owned(), id.to_owned())) else {
            return Ok(None);
        };
        Ok(match revision {
            None => revisions.last().filter(|last| !last.deleted).cloned(),
            Some(revision) => revisions.iter().find(|r| r.revision == revision).cloned(),
        })
    }

    async fn list_flows(&self, namespace: Option<&str>) -> Result<Vec<FlowRecord>> {
        let inner = self.lock();
        Ok(inner
            .flows
            .iter()
            .filter(|((ns, _), _)| namespace.is_none_or(|wanted| ns == wanted))
            .filter_map(|(_, revisions)| revisions.last().filter(|last| !last.deleted).cloned())
            .collect())
    }

    async fn save_execution(&self, execution: &Execution, changed: &Changed) -> Result<()> {
        self.save_executions(&[(execution, changed)]).await
    }

    /// All or nothing, as the SQL backends' transaction: every item is checked before any is
    /// written.
    async fn save_executions(&self, items: &[(&Execution, &Changed)]) -> Result<()> {
        let mut inner = self.lock();
        for (execution, changed) in items {
            inner.check_save(execution, changed)?;
        }
        for (execution, changed) in items {
            inner.write_execution(execution, changed);
        }
        Ok(())
    }

    async fn get_execution(&self, id: &ExecutionId) -> Result<Option<Execution>> {
        let inner = self.lock();
        Ok(inner.executions.get(id).map(StoredExecution::assemble))
    }

    async fn append_logs(&self, entries: &[LogEntry]) -> Result<()> {
        self.lock().logs.extend_from_slice(entries);
        Ok(())
    }

    async fn logs(&self, filter: &LogFilter) -> Result<Vec<LogEntry>> {
        Ok(self
            .lock()
            .logs
            .iter()
            .filter(|entry| filter.matches(entry))
            .cloned()
            .collect())
    }

    async fn flow_revisions(&self, namespace: &str, id: &str) -> Result<Vec<FlowRecord>> {
        Ok(self
            .lock()
            .flows
            .get(&(namespace.to_owned(), id.to_owned()))
            .cloned()
            .unwrap_or_default())
    }

    async fn delete_flow(&self, namespace: &str, id: &str) -> Result<bool> {
        let mut inner = self.lock();
        let Some(revisions) = inner.flows.get_mut(&(namespace.to_owned(), id.to_owned())) else {
            return Ok(false);
        };
        let Some(last) = revisions.last().filter(|last| !last.deleted).cloned() else {
            return Ok(false);
        };
        revisions.push(FlowRecord {
            revision: last.revision + 1,
            deleted: true,
            ..last
        });
        Ok(true)
    }

    async fn search_executions(&self, query: &ExecutionQuery) -> Result<Page<Execution>> {
        let inner = self.lock();
        let mut headers: Vec<Execution> = inner
            .executions
            .values()
            .filter(|stored| query.matches(&stored.header))
            .map(|stored| stored.header.clone())
            .collect();
        sort_executions(&mut headers);
        let page = query.paging.apply(headers);
        let results = page
            .results
            .iter()
            .filter_map(|header| inner.executions.get(&header.id))
            .map(StoredExecution::assemble)
            .collect();
        Ok(Page {
            results,
            total: page.total,
        })
    }

    async fn unfinished_executions(&self) -> Result<Vec<Execution>> {
        let inner = self.lock();
        let mut unfinished: Vec<Execution> = inner
            .executions
            .values()
            .filter(|stored| !stored.header.state.current().is_terminated())
            .map(StoredExecution::assemble)
            .collect();
        unfinished.sort_by(|a, b| {
            a.state
                .start_date()
                .cmp(&b.state.start_date())
                .then_with(|| a.id.as_str().cmp(b.id.as_str()))
        });
        Ok(unfinished)
    }

    async fn delete_execution(&self, id: &ExecutionId) -> Result<bool> {
        let mut inner = self.lock();
        let existed = inner.executions.remove(id).is_some();
        inner.logs.retain(|entry| entry.execution_id != id.as_str());
        inner
            .metrics
            .retain(|entry| entry.execution_id != id.as_str());
        Ok(existed)
    }

    async fn search_logs(&self, search: &LogSearch) -> Result<Page<LogEntry>> {
        let inner = self.lock();
        let matching: Vec<LogEntry> = inner
            .logs
            .iter()
            .filter(|entry| search.matches(entry))
            .cloned()
            .collect();
        Ok(search.paging.apply(matching))
    }

    async fn delete_logs(&self, execution_id: &str) -> Result<u64> {
        let mut inner = self.lock();
        let before = inner.logs.len();
        inner
            .logs
            .retain(|entry| entry.execution_id != execution_id);
        Ok((before - inner.logs.len()) as u64)
    }

    async fn purge_executions(
        &self,
        purge: &ExecutionPurge,
        limit: u32,
    ) -> Result<Vec<PurgedExecution>> {
        let mut inner = self.lock();
        let mut matching: Vec<(Instant, ExecutionId)> = inner
            .executions
            .values()
            .filter(|stored| purge.matches(&stored.header))
            .filter_map(|stored| {
                let end = stored.header.state.end_date()?;
                Some((end, stored.header.id.clone()))
            })
            .collect();
        matching.sort();
        matching.truncate(limit as usize);
        let mut purged = Vec::with_capacity(matching.len());
        for (_, id) in matching {
            if let Some(stored) = inner.executions.remove(&id) {
                purged.push(PurgedExecution {
                    id: id.as_str().to_owned(),
                    namespace: stored.header.namespace,
                    flow_id: stored.header.flow_id,
                });
            }
        }
        let ids: std::collections::HashSet<&str> = purged.iter().map(|p| p.id.as_str()).collect();
        if purge.logs {
            inner
                .logs
                .retain(|entry| !ids.contains(entry.execution_id.as_str()));
        }
        if purge.metrics {
            inner
                .metrics
                .retain(|entry| !ids.contains(entry.execution_id.as_str()));
        }
        Ok(purged)
    }

    async fn purge_logs(&self, purge: &LogPurge, limit: u32) -> Result<u64> {
        let mut inner = self.lock();
        let mut left = limit as usize;
        inner.logs.retain(|entry| {
            if left > 0 && purge.matches(entry) {
                left -= 1;
                false
            } else {
                true
            }
        });
        Ok((limit as usize - left) as u64)
    }

    async fn put_trigger(&self, record: &TriggerRecord) -> Result<()> {
        self.lock()
            .triggers
            .insert(record.key.clone(), record.clone());
        Ok(())
    }

    async fn get_trigger(&self, key: &TriggerKey) -> Result<Option<TriggerRecord>> {
        Ok(self.lock().triggers.get(key).cloned())
    }

    async fn list_triggers(&self, namespace: Option<&str>) -> Result<Vec<TriggerRecord>> {
        Ok(self
            .lock()
            .triggers
            .values()
            .filter(|record| {
                namespace.is_none_or(|ns| {
                    record.key.namespace == ns
                        || record
                            .key
                            .namespace
                            .strip_prefix(ns)
                            .is_some_and(|rest| rest.starts_with('.'))
                })
            })
            .cloned()
            .collect())
    }

    async fn delete_trigger(&self, key: &TriggerKey) -> Result<bool> {
        Ok(self.lock().triggers.remove(key).is_some())
    }

    async fn append_metrics(&self, entries: &[MetricEntry]) -> Result<()> {
        self.lock().metrics.extend_from_slice(entries);
        Ok(())
    }

    async fn search_metrics(&self, query: &MetricQuery) -> Result<Page<MetricEntry>> {
        let found: Vec<MetricEntry> = self
            .lock()
            .metrics
            .iter()
            .filter(|entry| query.matches(entry))
            .cloned()
            .collect();
        Ok(query.paging.apply(found))
    }

    async fn metric_names(
        &self,
        namespace: &str,
        flow_id: &str,
        task_id: Option<&str>,
    ) -> Result<Vec<String>> {
        let names: std::collections::BTreeSet<String> = self
            .lock()
            .metrics
            .iter()
            .filter(|e| e.namespace == namespace && e.flow_id == flow_id)
            .filter(|e| task_id.is_none_or(|id| e.task_id == id))
            .map(|e| e.name.clone())
            .collect();
        Ok(names.into_iter().collect())
    }

    async fn metric_tasks(&self, namespace: &str, flow_id: &str) -> Result<Vec<String>> {
        let tasks: std::collections::BTreeSet<String> = self
            .lock()
            .metrics
            .iter()
            .filter(|e| e.namespace == namespace && e.flow_id == flow_id)
            .map(|e| e.task_id.clone())
            .collect();
        Ok(tasks.into_iter().collect())
    }

    async fn acquire_trigger_lease(
        &self,
        key: &TriggerKey,
        owner: &str,
        until: Instant,
        now: Instant,
    ) -> Result<Option<TriggerRecord>> {
        let mut inner = self.lock();
        let Some(record) = inner.triggers.get_mut(key) else {
            return Ok(None);
        };
        let free = match (&record.lease_owner, record.lease_until) {
            (Some(holder), Some(expiry)) => holder == owner || expiry <= now,
            _ => true,
        };
        if !free {
            return Ok(None);
        }
        record.lease_owner = Some(owner.to_owned());
        record.lease_until = Some(until);
        Ok(Some(record.clone()))
    }
}

#[cfg(test)]
mod tests {
    use saker_core::{FlowRef, Instant, StateType};
    use saker_task::Level;

    use super::*;

    fn now() -> Instant {
        saker_core::time::parse_instant("2026-01-01T00:00:00Z").unwrap()
    }

    fn block<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn executions_are_saved_as_deltas() {
        block(async {
            let store = MemoryStore::new();
            let mut execution = Execution::new(
                ExecutionId::new("e1"),
                &FlowRef::new("ns", "f", 1),
                &[],
                Vec::new(),
                now(),
            );
            let first = TaskRun::new(TaskRunId::new("r1"), &execution, "a", now());
            execution.add_task_run(first);
            store
                .save_execution(&execution, &Changed::All)
                .await
                .unwrap();

            let before = execution.task_run_list.clone();
            execution.task_run_list[0].transition(StateType::Running, now());
            let second = TaskRun::new(TaskRunId::new("r2"), &execution, "b", now());
            execution.add_task_run(second);
            execution.transition(StateType::Running, now());
            let changed = Changed::between(&before, &execution.task_run_list);
            store.save_execution(&execution, &changed).await.unwrap();
            let loaded = store.get_execution(&execution.id).await.unwrap().unwrap();
            assert_eq!(loaded, execution);

            let missing = Changed::TaskRuns(vec![TaskRunId::new("nope")]);
            assert!(store.save_execution(&execution, &missing).await.is_err());
        });
    }

    #[test]
    fn logs_are_filtered() {
        block(async {
            let store = MemoryStore::new();
            let entry = |task: &str, level| LogEntry {
                namespace: "ns".into(),
                flow_id: "f".into(),
                task_id: Some(task.into()),
                execution_id: "e1".into(),
                task_run_id: Some(format!("{task}-run")),
                attempt_number: Some(1),
                timestamp: now(),
                level,
                thread: "worker".into(),
                message: format!("{task} says hi"),
            };
            store
                .append_logs(&[entry("a", Level::Info), entry("b", Level::Error)])
                .await
                .unwrap();
            let all = store.logs(&LogFilter::execution("e1")).await.unwrap();
            assert_eq!(all.len(), 2);
            let errors = LogFilter {
                min_level: Some(Level::Warn),
                ..LogFilter::execution("e1")
            };
            assert_eq!(store.logs(&errors).await.unwrap()[0].message, "b says hi");
            let by_run = LogFilter {
                task_run_id: Some("a-run".into()),
                ..LogFilter::execution("e1")
            };
            assert_eq!(store.logs(&by_run).await.unwrap().len(), 1);
            assert!(
                store
                    .logs(&LogFilter::execution("e2"))
                    .await
                    .unwrap()
                    .is_empty()
            );
        });
    }
}

#[cfg(test)]
mod suite {
    crate::store_suite!(async { super::MemoryStore::new() });
}

//! [`StorePurger`]: the [`Purger`] of the purge tasks over a [`Store`] and internal storage.

use std::sync::Arc;

use saker_task::purge::{ExecutionsPurge, LogsPurge, PurgedExecutions, Purger};
use saker_task::storage::Storage;
use saker_task::task::BoxFuture;

use crate::{ExecutionPurge, LogPurge, Scope, Store};

/// The most rows a purge task deletes per transaction.
const MAX_BATCH: u32 = 1000;

pub struct StorePurger<S> {
    pub store: Arc<S>,
    pub files: Arc<dyn Storage>,
}

fn scope(namespace: Option<String>, flow_id: Option<String>) -> Option<Scope> {
    namespace.map(|namespace| Scope { namespace, flow_id })
}

impl<S: Store> Purger for StorePurger<S> {
    fn purge_executions(
        &self,
        request: ExecutionsPurge,
    ) -> BoxFuture<'_, Result<PurgedExecutions, String>> {
        Box::pin(async move {
            let purge = ExecutionPurge {
                scope: scope(request.namespace, request.flow_id),
                except: Vec::new(),
                start_from: request.start_date,
                end_before: request.end_date,
                states: request.states,
                logs: request.purge_log,
                metrics: request.purge_metric,
            };
            let batch = request.batch_size.clamp(1, MAX_BATCH);
            let mut purged = PurgedExecutions::default();
            loop {
                let deleted = self
                    .store
                    .purge_executions(&purge, batch)
                    .await
                    .map_err(|e| e.to_string())?;
                if deleted.is_empty() {
                    return Ok(purged);
                }
                purged.executions += deleted.len() as u64;
                if request.purge_storage {
                    for execution in &deleted {
                        let prefix = saker_task::storage::execution_prefix(
                            &execution.namespace,
                            &execution.flow_id,
                            &execution.id,
                        );
                        let files = self
                            .files
                            .delete_by_prefix(&prefix)
                            .await
                            .map_err(|e| e.to_string())?;
                        purged.files += files.len() as u64;
                    }
                }
            }
        })
    }

    fn purge_logs(&self, request: LogsPurge) -> BoxFuture<'_, Result<u64, String>> {
        Box::pin(async move {
            let purge = LogPurge {
                scope: scope(request.namespace, request.flow_id),
                except: Vec::new(),
                execution_id: request.execution_id,
                levels: request.levels,
                from: request.start_date,
                before: request.end_date,
            };
            let mut count = 0;
            loop {
                let deleted = self
                    .store
                    .purge_logs(&purge, MAX_BATCH)
                    .await
                    .map_err(|e| e.to_string())?;
                if deleted == 0 {
                    return Ok(count);
                }
                count += deleted;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use saker_core::StateType;
    use saker_task::memory::MemoryStorage;

    use super::*;
    use crate::suite::{at, execution};
    use crate::{Changed, LogEntry, MemoryStore};

    #[tokio::test]
    async fn purges_every_batch_and_the_files_of_the_executions() {
        let store = Arc::new(MemoryStore::new());
        let files = Arc::new(MemoryStorage::new());
        for (id, flow) in [("a", "f"), ("b", "f"), ("c", "other")] {
            let mut e = execution(id, "company.team", flow, 0);
            e.transition(StateType::Success, at(10));
            store.save_execution(&e, &Changed::All).await.unwrap();
            let prefix = saker_task::storage::execution_prefix("company.team", flow, id);
            files
                .put(&format!("{prefix}out.txt"), b"x".to_vec())
                .await
                .unwrap();
        }
        let line = |id: &str| LogEntry {
            namespace: "company.team".into(),
            flow_id: "f".into(),
            task_id: None,
            execution_id: id.into(),
            task_run_id: None,
            attempt_number: None,
            timestamp: at(5),
            level: saker_task::Level::Debug,
            thread: "t".into(),
            message: id.into(),
        };
        store.append_logs(&[line("x"), line("y")]).await.unwrap();
        let purger = StorePurger {
            store: store.clone(),
            files: files.clone(),
        };
        let purged = purger
            .purge_executions(ExecutionsPurge {
                namespace: Some("company".into()),
                flow_id: None,
                start_date: None,
                end_date: at(100),
                states: Vec::new(),
                purge_log: true,
                purge_metric: true,
                purge_storage: true,
                batch_size: 1,
            })
            .await
            .unwrap();
        assert_eq!(
            purged,
            PurgedExecutions {
                executions: 3,
                files: 3
            }
        );
        assert!(files.uris().is_empty());
        let count = purger
            .purge_logs(LogsPurge {
                namespace: Some("company.team".into()),
                flow_id: Some("f".into()),
                execution_id: None,
                levels: vec![saker_task::Level::Debug],
                start_date: None,
                end_date: at(100),
            })
            .await
            .unwrap();
        assert_eq!(count, 2);
    }
}

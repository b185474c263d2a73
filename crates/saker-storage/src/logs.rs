//! Execution log lines as stored ([`LogEntry`], Kestra's `LogEntry` shape), the query filter
//! ([`LogFilter`]) and the `log.Fetch` adapter ([`StoreLogSource`]).

use std::sync::Arc;

use saker_core::Instant;
use saker_task::Level;
use saker_task::log::{LogQuery, LogSource};
use saker_task::task::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Store;

/// One log line of an execution (task-level when `task_run_id` is set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub namespace: String,
    pub flow_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    pub execution_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_number: Option<u32>,
    #[serde(with = "saker_core::time::iso")]
    pub timestamp: Instant,
    pub level: Level,
    pub thread: String,
    pub message: String,
}

/// Which log lines to return: one execution, optionally narrowed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogFilter {
    pub execution_id: String,
    /// Only this task run.
    pub task_run_id: Option<String>,
    /// Only these task ids (empty: all).
    pub task_ids: Vec<String>,
    /// Minimum level (`None`: all).
    pub min_level: Option<Level>,
}

impl LogFilter {
    pub fn execution(id: impl Into<String>) -> Self {
        LogFilter {
            execution_id: id.into(),
            ..LogFilter::default()
        }
    }

    pub fn matches(&self, entry: &LogEntry) -> bool {
        entry.execution_id == self.execution_id
            && self
                .task_run_id
                .as_ref()
                .is_none_or(|id| entry.task_run_id.as_ref() == Some(id))
            && (self.task_ids.is_empty()
                || entry
                    .task_id
                    .as_ref()
                    .is_some_and(|id| self.task_ids.contains(id)))
            && self.min_level.is_none_or(|min| entry.level >= min)
    }
}

/// A store's logs seen through [`LogSource`] (what `log.Fetch` reads).
pub struct StoreLogSource<S>(pub Arc<S>);

impl<S: Store> LogSource for StoreLogSource<S> {
    fn fetch(&self, query: LogQuery) -> BoxFuture<'_, Result<Vec<Value>, String>> {
        Box::pin(async move {
            let filter = LogFilter {
                execution_id: query.execution_id.clone(),
                task_run_id: None,
                task_ids: query.task_ids.clone(),
                min_level: Some(query.min_level),
            };
            let entries = self.0.logs(&filter).await.map_err(|e| e.to_string())?;
            entries
                .into_iter()
                .filter(|e| e.namespace == query.namespace && e.flow_id == query.flow_id)
                .map(|e| serde_json::to_value(e).map_err(|e| e.to_string()))
                .collect()
        })
    }
}

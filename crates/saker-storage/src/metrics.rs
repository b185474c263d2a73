//! Task metrics as stored ([`MetricEntry`], Kestra's `MetricEntry` shape) and their query
//! ([`MetricQuery`], what `GET /api/v1/metrics/{executionId}` asks).

use std::collections::BTreeMap;

use saker_core::Instant;
use serde::{Deserialize, Serialize};

use crate::Paging;

/// One metric point of a task run: a counter, a timer (`value` in milliseconds) or a gauge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricEntry {
    pub namespace: String,
    pub flow_id: String,
    pub task_id: String,
    pub execution_id: String,
    pub task_run_id: String,
    /// `counter`, `timer` or `gauge`.
    #[serde(rename = "type")]
    pub metric_type: String,
    pub name: String,
    pub value: f64,
    #[serde(with = "saker_core::time::iso")]
    pub timestamp: Instant,
    /// Kestra's tags are strings.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl MetricEntry {
    /// The entry of `metric`, emitted by the task run `info` at `timestamp`.
    pub fn of(
        metric: &saker_task::Metric,
        info: &saker_task::TaskRunInfo,
        timestamp: Instant,
    ) -> MetricEntry {
        use saker_task::MetricValue;
        let value = match metric.value {
            MetricValue::Counter(v) | MetricValue::Gauge(v) => v,
            MetricValue::Timer(d) => d.as_secs_f64() * 1000.0,
        };
        MetricEntry {
            namespace: info.namespace.clone(),
            flow_id: info.flow_id.clone(),
            task_id: info.task_id.clone(),
            execution_id: info.execution_id.as_str().to_owned(),
            task_run_id: info.task_run_id.as_str().to_owned(),
            metric_type: metric.value.type_name().to_owned(),
            name: metric.name.clone(),
            value,
            timestamp,
            tags: metric
                .tags
                .iter()
                .map(|(key, value)| {
                    let text = match value {
                        serde_json::Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    (key.clone(), text)
                })
                .collect(),
        }
    }
}

/// The metrics of one execution, optionally of one task run or one task, in insertion order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricQuery {
    pub execution_id: String,
    pub task_run_id: Option<String>,
    pub task_id: Option<String>,
    pub paging: Paging,
}

impl MetricQuery {
    pub fn matches(&self, entry: &MetricEntry) -> bool {
        entry.execution_id == self.execution_id
            && self
                .task_run_id
                .as_ref()
                .is_none_or(|id| &entry.task_run_id == id)
            && self.task_id.as_ref().is_none_or(|id| &entry.task_id == id)
    }
}

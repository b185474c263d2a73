//! Kestra's JSON for a trigger's state (`triggerContext` in `/api/v1/triggers/search`, the body
//! of `PUT /api/v1/triggers` and the backfill endpoints), built from a [`TriggerRecord`].

use saker_core::time::format_instant;
use saker_storage::TriggerRecord;
use serde_json::{Map, Value};

use crate::schedule::ScheduleState;

/// `{namespace, flowId, triggerId, date, nextExecutionDate, executionId, backfill, disabled}`,
/// nulls omitted like Kestra.
pub fn trigger_context_json(record: &TriggerRecord) -> Value {
    let mut out = Map::new();
    out.insert(
        "namespace".into(),
        Value::String(record.key.namespace.clone()),
    );
    out.insert("flowId".into(), Value::String(record.key.flow_id.clone()));
    out.insert(
        "triggerId".into(),
        Value::String(record.key.trigger_id.clone()),
    );
    let state = ScheduleState::from_context(&record.context);
    if let Some(date) = state.date {
        out.insert("date".into(), Value::String(format_instant(&date)));
    }
    if let Some(next) = record.next_execution_date {
        out.insert(
            "nextExecutionDate".into(),
            Value::String(format_instant(&next)),
        );
    }
    if let Some(id) = &state.execution_id {
        out.insert("executionId".into(), Value::String(id.clone()));
    }
    if let Some(b) = &state.backfill {
        let mut backfill = serde_json::to_value(b).unwrap_or_default();
        if let Some(next) = record.next_execution_date
            && let Value::Object(m) = &mut backfill
        {
            m.insert(
                "previousNextExecutionDate".into(),
                Value::String(format_instant(&next)),
            );
        }
        out.insert("backfill".into(), backfill);
    }
    if let Some(owner) = &record.lease_owner {
        out.insert("workerId".into(), Value::String(owner.clone()));
    }
    if let Some(until) = record.lease_until {
        out.insert(
            "evaluateRunningDate".into(),
            Value::String(format_instant(&until)),
        );
    }
    out.insert("disabled".into(), Value::Bool(record.disabled));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use saker_core::time::parse_instant;
    use saker_storage::TriggerKey;
    use serde_json::json;

    #[test]
    fn context_json_has_kestra_field_names() {
        let record = TriggerRecord {
            key: TriggerKey {
                namespace: "ns".into(),
                flow_id: "f".into(),
                trigger_id: "t".into(),
            },
            next_execution_date: Some(parse_instant("2025-01-02T00:00:00Z").unwrap()),
            disabled: false,
            context: json!({"date": "2025-01-01T00:00:00Z", "executionId": "e1"}),
            lease_owner: None,
            lease_until: None,
            updated: parse_instant("2025-01-01T00:00:01Z").unwrap(),
        };
        assert_eq!(
            trigger_context_json(&record),
            json!({
                "namespace": "ns", "flowId": "f", "triggerId": "t",
                "date": "2025-01-01T00:00:00Z", "nextExecutionDate": "2025-01-02T00:00:00Z",
                "executionId": "e1", "disabled": false
            })
        );
    }
}

//! Expression variables built from an execution's task runs: `outputs`, `tasks`, `parents`,
//! `taskrun`, `execution` (spec §7.3–7.4).
//!
//! They follow Kestra's `Execution.outputs()`, `Execution.parents()` and `RunVariables`:
//! * `outputs.<taskId>` is the task run's outputs map; when the run or any ancestor carries an
//!   iteration value, the map is nested under those values, outermost first
//!   (`outputs.t[outer][inner] = {...}`, the run's own value last). Every run with outputs is
//!   deep-merged into the result in creation order with [`merge`] (so iterations coexist and,
//!   for repeated runs without values, later keys win).
//! * Runs whose `outputs` is `null` contribute nothing; `{}` contributes an empty entry.

use serde_json::{Map, Value};

use crate::execution::{Execution, JsonMap, TaskRun};
use crate::time::format_instant;

/// Kestra's `MapUtils.merge(base, other)` applied in place: nested maps merge recursively,
/// two lists concatenate, a `null` never replaces an existing value, anything else replaces.
pub fn merge(base: &mut JsonMap, other: JsonMap) {
    for (key, value) in other {
        match (base.get_mut(&key), value) {
            (Some(_), Value::Null) => {}
            (Some(Value::Object(existing)), Value::Object(incoming)) => merge(existing, incoming),
            (Some(Value::Array(existing)), Value::Array(incoming)) => existing.extend(incoming),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// The `outputs` variable for a task-run list (see the module docs).
pub fn outputs(task_runs: &[TaskRun]) -> JsonMap {
    let by_id: std::collections::HashMap<&str, &TaskRun> =
        task_runs.iter().map(|t| (t.id.as_str(), t)).collect();
    let mut result = Map::new();
    for task_run in task_runs {
        let Some(own) = &task_run.outputs else {
            continue;
        };
        let mut values = ancestor_values(task_run, &by_id);
        values.extend(task_run.value.as_deref());
        // Innermost first: wrap the outputs map in one object per value.
        let mut nested = Value::Object(own.clone());
        for value in values.iter().rev() {
            let mut wrapper = Map::new();
            wrapper.insert((*value).to_owned(), nested);
            nested = Value::Object(wrapper);
        }
        let mut entry = Map::new();
        entry.insert(task_run.task_id.clone(), nested);
        merge(&mut result, entry);
    }
    result
}

/// Iteration values of the ancestors, outermost first, via an id index.
fn ancestor_values<'a>(
    task_run: &TaskRun,
    by_id: &std::collections::HashMap<&str, &'a TaskRun>,
) -> Vec<&'a str> {
    let mut values = Vec::new();
    let mut seen = 0usize;
    let mut next = task_run.parent_task_run_id.as_ref();
    while let Some(parent_id) = next {
        let Some(parent) = by_id.get(parent_id.as_str()) else {
            break;
        };
        // A valid list is a tree; the bound only stops a corrupted (cyclic) one.
        seen += 1;
        if seen > by_id.len() {
            break;
        }
        values.extend(parent.value.as_deref());
        next = parent.parent_task_run_id.as_ref();
    }
    values.reverse();
    values
}

/// The `tasks` variable: `{taskId: {"state": S}}`, or `{taskId: {value: {"state": S}}}` for
/// runs with a value. Later runs overwrite earlier ones, like Kestra.
pub fn tasks(task_runs: &[TaskRun]) -> JsonMap {
    let mut result = Map::new();
    for task_run in task_runs {
        let state = state_entry(task_run);
        match &task_run.value {
            None => {
                result.insert(task_run.task_id.clone(), state);
            }
            Some(value) => {
                let slot = result
                    .entry(task_run.task_id.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(map) = slot {
                    map.insert(value.clone(), state);
                }
            }
        }
    }
    result
}

fn state_entry(task_run: &TaskRun) -> Value {
    let mut map = Map::new();
    map.insert(
        "state".to_owned(),
        Value::String(task_run.state.current().to_string()),
    );
    Value::Object(map)
}

/// The `parents` variable from ancestors given outermost first: nearest first, each
/// `{"taskrun": {"value"}}` when it has a value and `{"outputs"}` when it has non-empty
/// outputs; ancestors with neither are left out.
pub fn parents(ancestors_outermost_first: &[&TaskRun]) -> Vec<Value> {
    ancestors_outermost_first
        .iter()
        .rev()
        .filter_map(|ancestor| {
            let mut entry = Map::new();
            if let Some(value) = &ancestor.value {
                let mut taskrun = Map::new();
                taskrun.insert("value".to_owned(), Value::String(value.clone()));
                entry.insert("taskrun".to_owned(), Value::Object(taskrun));
            }
            if let Some(outputs) = ancestor.outputs.as_ref().filter(|o| !o.is_empty()) {
                entry.insert("outputs".to_owned(), Value::Object(outputs.clone()));
            }
            (!entry.is_empty()).then_some(Value::Object(entry))
        })
        .collect()
}

/// The `taskrun` variable.
pub fn taskrun(task_run: &TaskRun) -> JsonMap {
    let mut map = Map::new();
    map.insert("id".to_owned(), Value::String(task_run.id.to_string()));
    map.insert(
        "startDate".to_owned(),
        Value::String(format_instant(&task_run.state.start_date())),
    );
    map.insert(
        "attemptsCount".to_owned(),
        Value::from(task_run.attempts_count()),
    );
    if let Some(parent) = &task_run.parent_task_run_id {
        map.insert("parentId".to_owned(), Value::String(parent.to_string()));
    }
    if let Some(value) = &task_run.value {
        map.insert("value".to_owned(), Value::String(value.clone()));
    }
    if let Some(iteration) = task_run.iteration {
        map.insert("iteration".to_owned(), Value::from(iteration));
    }
    map
}

/// The `execution` variable: `{id, state, startDate, originalId?, outputs?}`.
pub fn execution(execution: &Execution) -> JsonMap {
    let mut map = Map::new();
    map.insert("id".to_owned(), Value::String(execution.id.to_string()));
    map.insert(
        "state".to_owned(),
        Value::String(execution.state.current().to_string()),
    );
    map.insert(
        "startDate".to_owned(),
        Value::String(format_instant(&execution.state.start_date())),
    );
    if let Some(original) = &execution.original_id {
        map.insert("originalId".to_owned(), Value::String(original.to_string()));
    }
    if !execution.outputs.is_empty() {
        map.insert(
            "outputs".to_owned(),
            Value::Object(execution.outputs.clone()),
        );
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ExecutionId, FlowRef, TaskRunId};
    use crate::state::StateType;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn object(value: Value) -> JsonMap {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    struct Builder {
        execution: Execution,
    }

    impl Builder {
        fn new() -> Self {
            let now = Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).unwrap();
            let flow = FlowRef::new("io.kestra.tests", "each", 1);
            Builder {
                execution: Execution::new(ExecutionId::new("exec"), &flow, &[], vec![], now),
            }
        }

        /// Adds a task run and returns its id.
        fn run(
            &mut self,
            id: &str,
            task: &str,
            parent: Option<&str>,
            value: Option<&str>,
            outputs: Option<Value>,
        ) -> &mut Self {
            let now = self.execution.state.start_date();
            let mut run = TaskRun::new(TaskRunId::new(id), &self.execution, task, now)
                .with_parent(parent.map(TaskRunId::new))
                .with_value(value.map(str::to_owned))
                .with_state(StateType::Success, now);
            run.outputs = outputs.map(object);
            self.execution.add_task_run(run);
            self
        }
    }

    #[test]
    fn plain_task_outputs() {
        let mut b = Builder::new();
        b.run("1", "hello", None, None, Some(json!({"value": "hi"})))
            .run("2", "empty", None, None, Some(json!({})))
            .run("3", "none", None, None, None);
        assert_eq!(
            Value::Object(b.execution.outputs_variable()),
            json!({"hello": {"value": "hi"}, "empty": {}})
        );
    }

    /// The spec §7.4 example: ForEach outer [a, b] > ForEach inner [x, y] > Return ret.
    #[test]
    fn nested_for_each_nests_by_values_outermost_first() {
        let mut b = Builder::new();
        b.run("o", "outer", None, None, Some(json!({})));
        for outer in ["a", "b"] {
            let inner_id = format!("i-{outer}");
            b.run(&inner_id, "inner", Some("o"), Some(outer), Some(json!({})));
            for inner in ["x", "y"] {
                let ret_id = format!("r-{outer}-{inner}");
                let value = json!({"value": format!("{outer}-{inner}")});
                b.run(&ret_id, "ret", Some(&inner_id), Some(inner), Some(value));
            }
        }
        let outputs = Value::Object(b.execution.outputs_variable());
        assert_eq!(outputs["ret"]["b"]["x"]["value"], json!("b-x"));
        assert_eq!(
            outputs["ret"],
            json!({
                "a": {"x": {"value": "a-x"}, "y": {"value": "a-y"}},
                "b": {"x": {"value": "b-x"}, "y": {"value": "b-y"}}
            })
        );
        assert_eq!(outputs["inner"], json!({"a": {}, "b": {}}));
        assert_eq!(outputs["outer"], json!({}));
    }

    /// A task inside a Sequential inside a ForEach has no value of its own: its outputs are
    /// keyed by the ancestor's value.
    #[test]
    fn valueless_child_is_keyed_by_ancestor_value() {
        let mut b = Builder::new();
        b.run("e", "each", None, None, Some(json!({})))
            .run("s1", "seq", Some("e"), Some("1"), None)
            .run("t1", "t", Some("s1"), None, Some(json!({"n": 1})))
            .run("s2", "seq", Some("e"), Some("2"), None)
            .run("t2", "t", Some("s2"), None, Some(json!({"n": 2})));
        let outputs = Value::Object(b.execution.outputs_variable());
        assert_eq!(outputs["t"], json!({"1": {"n": 1}, "2": {"n": 2}}));
        assert!(outputs.get("seq").is_none());
    }

    #[test]
    fn repeated_runs_merge_like_kestra() {
        let mut b = Builder::new();
        b.run(
            "1",
            "loop",
            None,
            None,
            Some(json!({"count": 1, "items": [1], "m": {"a": 1}, "keep": "x"})),
        )
        .run(
            "2",
            "loop",
            None,
            None,
            Some(json!({"count": 2, "items": [2], "m": {"b": 2}, "keep": null})),
        );
        assert_eq!(
            Value::Object(b.execution.outputs_variable()),
            json!({"loop": {"count": 2, "items": [1, 2], "m": {"a": 1, "b": 2}, "keep": "x"}})
        );
    }

    #[test]
    fn tasks_variable_by_value() {
        let mut b = Builder::new();
        b.run("e", "each", None, None, None)
            .run("r1", "r", Some("e"), Some("a"), None)
            .run("r2", "r", Some("e"), Some("b"), None);
        b.execution.task_run_list[2].transition(
            StateType::Failed,
            b.execution.state.start_date() + chrono::TimeDelta::seconds(1),
        );
        assert_eq!(
            Value::Object(b.execution.tasks_variable()),
            json!({"each": {"state": "SUCCESS"}, "r": {"a": {"state": "SUCCESS"}, "b": {"state": "FAILED"}}})
        );
    }

    #[test]
    fn parents_nearest_first() {
        let mut b = Builder::new();
        b.run("o", "outer", None, None, Some(json!({})))
            .run("i", "inner", Some("o"), Some("a"), Some(json!({"k": "v"})))
            .run("s", "seq", Some("i"), None, None)
            .run("r", "ret", Some("s"), Some("x"), None);
        let r = b.execution.find_task_run("r").unwrap();
        let parents = b.execution.parents_variable(r);
        // `seq` (no value, no outputs) and `outer` (empty outputs) are left out.
        assert_eq!(
            parents,
            [json!({"taskrun": {"value": "a"}, "outputs": {"k": "v"}})]
        );
    }

    #[test]
    fn taskrun_and_execution_variables() {
        let mut b = Builder::new();
        b.run("p", "each", None, None, None)
            .run("c", "r", Some("p"), Some("a"), None);
        b.execution.task_run_list[1].iteration = Some(0);
        let child = b.execution.find_task_run("c").unwrap();
        assert_eq!(
            Value::Object(child.variables()),
            json!({"id": "c", "startDate": "2025-01-06T09:00:00Z", "attemptsCount": 0,
                   "parentId": "p", "value": "a", "iteration": 0})
        );
        b.execution.outputs = object(json!({"final": 1}));
        assert_eq!(
            Value::Object(b.execution.execution_variable()),
            json!({"id": "exec", "state": "CREATED", "startDate": "2025-01-06T09:00:00Z",
                   "originalId": "exec", "outputs": {"final": 1}})
        );
    }
}

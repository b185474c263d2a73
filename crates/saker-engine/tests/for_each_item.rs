//! ForEachItem in the pure engine: the hidden `_split` / `_items` / `_merge` steps, one
//! StartSubflow per batch, `iterations` counting and the final states. The worker side
//! (splitting files, merging outputs) is simulated by feeding results by hand.

use chrono::{TimeDelta, TimeZone, Utc};
use saker_core::{
    Execution, ExecutionId, FlowRef, Instant, JsonMap, SequentialIds, StateType, TaskRunId,
};
use saker_engine::{Action, Event, Executor, NoEngineServices, StartSubflow, TaskRunResult};
use saker_flow::{Catalog, Flow, ParamError, PluginInfo, PluginKind, Slot, TaskKind};
use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};

fn accept(_: &serde_json::Map<String, Value>) -> Vec<ParamError> {
    Vec::new()
}

fn any_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object"})
}

static PLUGINS: &[PluginInfo] = &[
    PluginInfo {
        type_name: "io.kestra.plugin.core.flow.ForEachItem",
        aliases: &["ForEachItem"],
        kind: PluginKind::Task(TaskKind::Flowable),
        title: "test",
        slots: &[Slot::Tasks("errors"), Slot::Tasks("finally")],
        check: accept,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.log.Log",
        aliases: &["Log"],
        kind: PluginKind::Task(TaskKind::Runnable),
        title: "test",
        slots: &[],
        check: accept,
        schema: any_schema,
    },
];

struct TestCatalog;

impl Catalog for TestCatalog {
    fn get(&self, type_name: &str) -> Option<&PluginInfo> {
        PLUGINS
            .iter()
            .find(|p| p.type_name == type_name || p.aliases.contains(&type_name))
    }
    fn plugins(&self) -> Vec<&PluginInfo> {
        PLUGINS.iter().collect()
    }
}

/// One execution driven by hand.
struct Harness {
    flow: Flow,
    exec: Execution,
    ids: SequentialIds,
    now: Instant,
    executor: Executor,
}

impl Harness {
    fn new(each: &str) -> Harness {
        let source = format!(
            r#"id: parent
namespace: company.team
tasks:
  - id: each
    type: ForEachItem
    items: "kestra:///company/team/parent/executions/exec/inputs/file/data.txt"
    namespace: company.team
    flowId: child
    inputs:
      items: "{{{{ taskrun.items }}}}"
      n: "{{{{ taskrun.iteration }}}}"
{each}
  - id: after
    type: Log
    message: done
"#
        );
        let flow = saker_flow::parse_and_validate(&source, None, &TestCatalog)
            .unwrap_or_else(|d| panic!("invalid test flow: {d:#?}"));
        let exec = Execution::new(
            ExecutionId::new("exec"),
            &FlowRef::new(&flow.namespace, &flow.id, 1),
            &[],
            Vec::new(),
            Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).unwrap(),
        );
        Harness {
            flow,
            exec,
            ids: SequentialIds::new(3),
            now: Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).unwrap(),
            executor: Executor::new(),
        }
    }

    fn apply(&mut self, event: Event) -> Vec<Action> {
        self.now += TimeDelta::seconds(1);
        self.executor.apply(
            &self.flow,
            &mut self.exec,
            event,
            self.now,
            &mut self.ids,
            &NoEngineServices,
        )
    }

    fn run_id(&self, task_id: &str) -> TaskRunId {
        self.exec
            .task_runs_by_task_id(task_id)
            .next()
            .unwrap_or_else(|| panic!("no run of {task_id}"))
            .id
            .clone()
    }

    fn state_of(&self, task_id: &str) -> Option<StateType> {
        self.exec
            .task_runs_by_task_id(task_id)
            .next()
            .map(|r| r.state.current())
    }

    fn outputs_of(&self, task_id: &str) -> Value {
        let run = self.exec.task_runs_by_task_id(task_id).next().unwrap();
        run.outputs.clone().map_or(Value::Null, Value::Object)
    }

    /// A worker runs `task_id` to `state` with `outputs`.
    fn work(&mut self, task_id: &str, state: StateType, outputs: Value) -> Vec<Action> {
        let id = self.run_id(task_id);
        self.apply(Event::TaskRunResult(TaskRunResult::running(id.clone())));
        let outputs = match outputs {
            Value::Object(map) => Some(map),
            _ => None,
        };
        self.apply(Event::TaskRunResult(TaskRunResult::ended(
            id, state, outputs,
        )))
    }

    /// Starts the execution and runs the split step to `batches` batch URIs; returns the
    /// subflow requests that followed.
    fn split_into(&mut self, batches: usize) -> Vec<StartSubflow> {
        let actions = self.apply(Event::Created);
        assert!(dispatched(&actions, "each_split"), "{actions:#?}");
        let uris: Vec<String> = (0..batches)
            .map(|i| format!("kestra:///b/{i}.txt"))
            .collect();
        let actions = self.work("each_split", StateType::Success, json!({ "uris": uris }));
        starts(&actions)
    }

    fn child_ended(&mut self, start: &StartSubflow, state: StateType) -> Vec<Action> {
        self.apply(Event::SubflowEnded {
            task_run_id: start.task_run_id.clone(),
            execution_id: start.execution_id.clone(),
            state,
            outputs: JsonMap::new(),
        })
    }
}

fn dispatched(actions: &[Action], task_id: &str) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::Dispatch { task_id: t, .. } if t == task_id))
}

fn starts(actions: &[Action]) -> Vec<StartSubflow> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StartSubflow(start) => Some((**start).clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn one_subflow_per_batch_then_merge() {
    let mut h = Harness::new("");
    let requests = h.split_into(3);
    assert_eq!(requests.len(), 3);
    let items_run = h.run_id("each_items");
    for (i, start) in requests.iter().enumerate() {
        assert_eq!(start.task_run_id, items_run);
        assert_eq!(
            (start.namespace.as_str(), start.flow_id.as_str()),
            ("company.team", "child")
        );
        assert!(start.wait);
        assert_eq!(start.inputs["items"], format!("kestra:///b/{i}.txt"));
        assert_eq!(start.inputs["n"], i.to_string());
        let variables = start.trigger.variables.as_ref().unwrap();
        assert_eq!(variables["taskRunIteration"], i);
        assert_eq!(variables["taskId"], "each_items");
        assert_eq!(
            start.outputs_uri.as_deref(),
            Some(
                format!(
                    "kestra:///company/team/parent/executions/exec/tasks/each-items/{}/{i}/outputs.ion",
                    items_run.as_str()
                )
                .as_str()
            )
        );
    }
    let ids: std::collections::HashSet<_> = requests.iter().map(|s| &s.execution_id).collect();
    assert_eq!(ids.len(), 3, "each batch gets its own execution");
    assert_eq!(
        h.outputs_of("each_items"),
        json!({"iterations": {"CREATED": 0, "RUNNING": 3}, "numberOfBatches": 3})
    );

    h.child_ended(&requests[1], StateType::Success);
    h.child_ended(&requests[0], StateType::Success);
    assert_eq!(h.state_of("each_items"), Some(StateType::Running));
    assert_eq!(
        h.outputs_of("each_items")["iterations"],
        json!({"CREATED": 0, "RUNNING": 1, "SUCCESS": 2})
    );
    let actions = h.child_ended(&requests[2], StateType::Success);
    assert_eq!(h.state_of("each_items"), Some(StateType::Success));
    let run = h.exec.task_runs_by_task_id("each_items").next().unwrap();
    assert_eq!(run.attempts.len(), 1);
    assert_eq!(run.attempts[0].state.current(), StateType::Success);
    let outputs = h.outputs_of("each_items");
    assert_eq!(
        outputs["iterations"],
        json!({"CREATED": 0, "RUNNING": 0, "SUCCESS": 3})
    );
    assert_eq!(
        outputs["subflowOutputsBaseUri"],
        format!(
            "/company/team/parent/executions/exec/tasks/each-items/{}",
            items_run.as_str()
        )
    );
    assert!(dispatched(&actions, "each_merge"), "{actions:#?}");
    h.work(
        "each_merge",
        StateType::Success,
        json!({"subflowOutputs": "kestra:///m"}),
    );
    assert_eq!(h.state_of("each"), Some(StateType::Success));
    h.work("after", StateType::Success, Value::Null);
    assert_eq!(h.exec.state.current(), StateType::Success);
    let order: Vec<&str> = h
        .exec
        .task_run_list
        .iter()
        .map(|r| r.task_id.as_str())
        .collect();
    assert_eq!(
        order,
        ["each", "each_split", "each_items", "each_merge", "after"]
    );
}

#[test]
fn a_failed_batch_fails_the_step_and_skips_the_merge() {
    let mut h = Harness::new("");
    let requests = h.split_into(2);
    h.child_ended(&requests[0], StateType::Failed);
    assert_eq!(h.state_of("each_items"), Some(StateType::Running));
    h.child_ended(&requests[1], StateType::Success);
    assert_eq!(h.state_of("each_items"), Some(StateType::Failed));
    assert_eq!(
        h.outputs_of("each_items")["iterations"],
        json!({"CREATED": 0, "RUNNING": 0, "SUCCESS": 1, "FAILED": 1})
    );
    assert_eq!(h.state_of("each_merge"), None);
    assert_eq!(h.state_of("each"), Some(StateType::Failed));
    assert_eq!(h.state_of("after"), None);
    assert_eq!(h.exec.state.current(), StateType::Failed);

    // A late report for the finished step changes nothing.
    let before = h.outputs_of("each_items");
    h.child_ended(&requests[1], StateType::Success);
    assert_eq!(h.outputs_of("each_items"), before);
}

#[test]
fn allow_failure_on_the_task_lets_the_flow_continue() {
    let mut h = Harness::new("    allowFailure: true");
    let requests = h.split_into(2);
    for start in &requests {
        h.child_ended(start, StateType::Failed);
    }
    assert_eq!(h.state_of("each_items"), Some(StateType::Failed));
    assert_eq!(h.state_of("each"), Some(StateType::Warning));
    h.work("after", StateType::Success, Value::Null);
    assert_eq!(h.exec.state.current(), StateType::Warning);
}

#[test]
fn killed_and_warning_batches_rank_below_failed() {
    let mut h = Harness::new("");
    let requests = h.split_into(2);
    h.child_ended(&requests[0], StateType::Warning);
    h.child_ended(&requests[1], StateType::Killed);
    assert_eq!(h.state_of("each_items"), Some(StateType::Killed));

    let mut h = Harness::new("    transmitFailed: false");
    let requests = h.split_into(2);
    h.child_ended(&requests[0], StateType::Failed);
    h.child_ended(&requests[1], StateType::Failed);
    assert_eq!(h.state_of("each_items"), Some(StateType::Success));
    assert_eq!(h.outputs_of("each_items")["iterations"]["FAILED"], json!(2));
}

#[test]
fn without_wait_the_step_succeeds_once_the_children_are_requested() {
    let mut h = Harness::new("    wait: false");
    let requests = h.split_into(3);
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|s| !s.wait && s.outputs_uri.is_none()));
    assert_eq!(h.state_of("each_items"), Some(StateType::Success));
    let outputs = h.outputs_of("each_items");
    assert_eq!(outputs["iterations"], json!({"RUNNING": 0, "SUCCESS": 3}));
    assert_eq!(outputs["numberOfBatches"], json!(3));
    assert!(h.state_of("each_merge").is_some());
}

#[test]
fn an_empty_file_starts_nothing() {
    let mut h = Harness::new("");
    let requests = h.split_into(0);
    assert!(requests.is_empty());
    assert_eq!(h.state_of("each_items"), Some(StateType::Success));
    assert_eq!(h.outputs_of("each_items"), Value::Null);
    assert!(h.state_of("each_merge").is_some());
}

#[test]
fn a_split_without_batch_list_fails_the_step() {
    let mut h = Harness::new("");
    h.apply(Event::Created);
    h.work("each_split", StateType::Success, Value::Null);
    assert_eq!(h.state_of("each_items"), Some(StateType::Failed));
    assert_eq!(h.exec.state.current(), StateType::Failed);
}

//! The executor keeps derived state per execution between `apply` calls (task-run index, open
//! runs, ForEach cursors). Driving the same events through one long-lived executor and through
//! a fresh executor per event must give the same actions and the same execution, including
//! across failures, errors/finally, value groups and a restart (which reopens and removes runs).

mod common;

use std::collections::VecDeque;

use chrono::TimeDelta;
use saker_core::{Execution, ExecutionId, FlowRef, JsonMap, SequentialIds, StateType};
use saker_engine::{Action, Event, Executor, NoEngineServices, TaskRunResult};
use saker_expr::Value;
use saker_flow::Flow;

struct Driver {
    exec: Execution,
    ids: SequentialIds,
    now: saker_core::Instant,
    kept: Option<Executor>,
    trace: Vec<String>,
}

impl Driver {
    fn new(flow: &Flow, keep: bool) -> Driver {
        Driver {
            exec: Execution::new(
                ExecutionId::new("exec"),
                &FlowRef::new(&flow.namespace, &flow.id, 1),
                &[],
                Vec::new(),
                common::start(),
            ),
            ids: SequentialIds::new(7),
            now: common::start(),
            kept: keep.then(Executor::new),
            trace: Vec::new(),
        }
    }

    /// Applies `event` and everything the fake worker answers; `fail` says which (task, value)
    /// runs fail.
    fn drive(&mut self, flow: &Flow, event: Event, fail: &dyn Fn(&str, &str) -> bool) {
        let mut queue = VecDeque::from([event]);
        while let Some(event) = queue.pop_front() {
            self.now += TimeDelta::seconds(1);
            let fresh;
            let executor = match &self.kept {
                Some(executor) => executor,
                None => {
                    fresh = Executor::new();
                    &fresh
                }
            };
            let actions = executor.apply(
                flow,
                &mut self.exec,
                event,
                self.now,
                &mut self.ids,
                &NoEngineServices,
            );
            for action in actions {
                self.trace.push(format!("{action:?}"));
                if let Action::Dispatch { task_run_id, .. } = action {
                    let run = self.exec.find_task_run(task_run_id.as_str()).unwrap();
                    let value = run.value.clone().unwrap_or_default();
                    let failed = fail(&run.task_id, &value);
                    queue.push_back(Event::TaskRunResult(TaskRunResult::running(
                        task_run_id.clone(),
                    )));
                    let state = if failed {
                        StateType::Failed
                    } else {
                        StateType::Success
                    };
                    let mut outputs = JsonMap::new();
                    outputs.insert("value".into(), Value::String(value));
                    queue.push_back(Event::TaskRunResult(TaskRunResult::ended(
                        task_run_id,
                        state,
                        Some(outputs),
                    )));
                }
            }
        }
    }
}

fn same_with_and_without_memo(yaml: &str, fail: &dyn Fn(&str, &str) -> bool) -> Execution {
    let flow = common::flow(yaml);
    let mut kept = Driver::new(&flow, true);
    let mut fresh = Driver::new(&flow, false);
    for driver in [&mut kept, &mut fresh] {
        driver.drive(&flow, Event::Created, fail);
        // A restart reopens failed runs and drops errors/finally runs; then nothing fails.
        driver.drive(&flow, Event::RestartRequested, &|_, _| false);
    }
    assert_eq!(kept.trace, fresh.trace);
    assert_eq!(kept.exec, fresh.exec);
    kept.exec
}

#[test]
fn sequential_foreach_with_a_failure_errors_finally_and_restart() {
    let exec = same_with_and_without_memo(
        r#"
tasks:
  - id: each
    type: ForEach
    values: ["a", "b", "c", "d", 5]
    tasks:
      - id: first
        type: Return
        format: "{{ taskrun.value }}"
      - id: second
        type: Return
        format: "x"
    errors:
      - id: on_error
        type: Log
        message: failed
    finally:
      - id: always
        type: Log
        message: done
"#,
        &|task, value| task == "second" && value == "c",
    );
    assert_eq!(exec.state.current(), StateType::Success);
    assert_eq!(exec.metadata.attempt_number, 2);
}

#[test]
fn value_groups_and_parallel_each_with_failures() {
    let exec = same_with_and_without_memo(
        r#"
tasks:
  - id: groups
    type: ForEach
    concurrencyLimit: 2
    values: ["1", "2", "3", "4", "5", "6"]
    tasks:
      - id: g1
        type: Return
        format: "{{ taskrun.value }}"
      - id: g2
        type: Return
        format: "y"
  - id: all
    type: ForEach
    concurrencyLimit: 0
    values: ["p", "q", "r"]
    tasks:
      - id: p1
        type: Return
        format: "{{ taskrun.value }}"
"#,
        &|task, value| task == "g2" && value == "4",
    );
    assert_eq!(exec.state.current(), StateType::Success);
}

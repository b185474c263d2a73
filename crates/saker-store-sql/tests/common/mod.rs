//! Data shared by the store tests.

use saker_core::{Execution, Label, StateType, TaskRun, TaskRunId};
use saker_storage::LogEntry;
use saker_storage::suite::{at, execution};
use saker_task::Level;

pub fn log(execution: &str, message: &str) -> LogEntry {
    LogEntry {
        namespace: "io.test".into(),
        flow_id: "f".into(),
        task_id: Some("t".into()),
        execution_id: execution.into(),
        task_run_id: Some("r".into()),
        attempt_number: Some(1),
        timestamp: at(3),
        level: Level::Warn,
        thread: "worker".into(),
        message: message.into(),
    }
}

/// An execution with `runs` task runs, RUNNING.
pub fn running(id: &str, runs: usize) -> Execution {
    let mut e = execution(id, "io.test", "f", 0);
    e.labels.push(Label::new("team", "data"));
    for n in 0..runs {
        let run = TaskRun::new(TaskRunId::new(format!("{id}-r{n}")), &e, "t", at(1));
        e.task_run_list.push(run);
    }
    e.transition(StateType::Running, at(1));
    e
}

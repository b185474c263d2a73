//! Where each task of a flow sits: its task, its enclosing flowable and the branch it is in.
//! Task ids are unique in a flow (validated), so a task run's `taskId` finds its task.

use std::collections::HashMap;

use saker_flow::{Flow, Task};

/// One task's position.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TaskInfo<'f> {
    pub(crate) task: &'f Task,
    /// Inside an `errors`, `finally` or `afterExecution` list at any depth: such runs are
    /// dropped on restart.
    pub(crate) in_handler: bool,
}

/// Task id → position, for the whole flow.
pub(crate) struct FlowIndex<'f> {
    tasks: HashMap<&'f str, TaskInfo<'f>>,
}

impl<'f> FlowIndex<'f> {
    pub(crate) fn new(flow: &'f Flow) -> Self {
        let mut index = FlowIndex {
            tasks: HashMap::new(),
        };
        for task in &flow.tasks {
            index.add(task, false);
        }
        for task in flow
            .errors
            .iter()
            .chain(&flow.finally)
            .chain(&flow.after_execution)
            .chain(flow.listeners.iter().flat_map(|l| &l.tasks))
        {
            index.add(task, true);
        }
        index
    }

    fn add(&mut self, task: &'f Task, in_handler: bool) {
        self.tasks
            .insert(task.id.as_str(), TaskInfo { task, in_handler });
        for branch in &task.branches {
            let handler = in_handler || branch.name == "errors" || branch.name == "finally";
            for child in &branch.tasks {
                self.add(child, handler);
            }
        }
    }

    pub(crate) fn get(&self, task_id: &str) -> Option<TaskInfo<'f>> {
        self.tasks.get(task_id).copied()
    }

    pub(crate) fn task(&self, task_id: &str) -> Option<&'f Task> {
        self.get(task_id).map(|info| info.task)
    }
}

//! Test driver: parses a flow with a small catalog, then loops `apply` → fake worker → `apply`
//! until nothing is left to do, recording a readable trace of actions.

#![allow(dead_code)]

use std::collections::VecDeque;

use chrono::{TimeDelta, TimeZone, Utc};
use saker_core::{
    Execution, ExecutionId, FlowRef, IdSource, Instant, JsonMap, SequentialIds, StateType,
    TaskRunId, format_duration,
};
use saker_engine::{Action, Event, Executor, NoEngineServices, TaskRunResult, Timer};
use saker_expr::Value;
use saker_flow::{Catalog, Flow, ParamError, PluginInfo, PluginKind, Slot, TaskKind};
use schemars::{Schema, SchemaGenerator, json_schema};

fn accept(_: &serde_json::Map<String, Value>) -> Vec<ParamError> {
    Vec::new()
}

fn any_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object"})
}

const FLOWABLE: &[Slot] = &[
    Slot::Tasks("tasks"),
    Slot::Tasks("errors"),
    Slot::Tasks("finally"),
];

macro_rules! plugin {
    ($name:expr, $short:expr, $kind:expr, $slots:expr) => {
        PluginInfo {
            type_name: $name,
            aliases: &[$short],
            kind: PluginKind::Task($kind),
            title: "test",
            slots: $slots,
            check: accept,
            schema: any_schema,
        }
    };
}

static PLUGINS: &[PluginInfo] = &[
    plugin!(
        "io.kestra.plugin.core.log.Log",
        "Log",
        TaskKind::Runnable,
        &[]
    ),
    plugin!(
        "io.kestra.plugin.core.output.OutputValues",
        "OutputValues",
        TaskKind::Runnable,
        &[]
    ),
    plugin!(
        "io.kestra.plugin.core.debug.Return",
        "Return",
        TaskKind::Runnable,
        &[]
    ),
    plugin!(
        "io.kestra.plugin.core.execution.Fail",
        "Fail",
        TaskKind::Runnable,
        &[]
    ),
    plugin!(
        "io.kestra.plugin.core.flow.Sleep",
        "Sleep",
        TaskKind::Runnable,
        &[]
    ),
    plugin!(
        "io.kestra.plugin.core.flow.Sequential",
        "Sequential",
        TaskKind::Flowable,
        FLOWABLE
    ),
    plugin!(
        "io.kestra.plugin.core.flow.AllowFailure",
        "AllowFailure",
        TaskKind::Flowable,
        FLOWABLE
    ),
    plugin!(
        "io.kestra.plugin.core.flow.Parallel",
        "Parallel",
        TaskKind::Flowable,
        FLOWABLE
    ),
    plugin!(
        "io.kestra.plugin.core.flow.ForEach",
        "ForEach",
        TaskKind::Flowable,
        FLOWABLE
    ),
    plugin!(
        "io.kestra.plugin.core.flow.WorkingDirectory",
        "WorkingDirectory",
        TaskKind::WorkingDirectory,
        FLOWABLE
    ),
    plugin!(
        "io.kestra.plugin.core.flow.EachSequential",
        "EachSequential",
        TaskKind::Flowable,
        FLOWABLE
    ),
    plugin!(
        "io.kestra.plugin.core.flow.EachParallel",
        "EachParallel",
        TaskKind::Flowable,
        FLOWABLE
    ),
    plugin!(
        "io.kestra.plugin.core.flow.Pause",
        "Pause",
        TaskKind::Flowable,
        &[
            Slot::Task("onPause"),
            Slot::Tasks("tasks"),
            Slot::Tasks("errors"),
            Slot::Tasks("finally")
        ]
    ),
    plugin!(
        "io.kestra.plugin.core.flow.Template",
        "Template",
        TaskKind::Flowable,
        &[Slot::Tasks("errors"), Slot::Tasks("finally")]
    ),
    plugin!(
        "io.kestra.plugin.core.flow.LoopUntil",
        "LoopUntil",
        TaskKind::Flowable,
        FLOWABLE
    ),
    plugin!(
        "io.kestra.plugin.core.flow.If",
        "If",
        TaskKind::Flowable,
        &[
            Slot::Tasks("then"),
            Slot::Tasks("else"),
            Slot::Tasks("errors"),
            Slot::Tasks("finally")
        ]
    ),
    plugin!(
        "io.kestra.plugin.core.flow.Switch",
        "Switch",
        TaskKind::Flowable,
        &[
            Slot::TaskMap("cases"),
            Slot::Tasks("defaults"),
            Slot::Tasks("errors"),
            Slot::Tasks("finally")
        ]
    ),
    plugin!(
        "io.kestra.plugin.core.flow.Dag",
        "Dag",
        TaskKind::Flowable,
        &[
            Slot::DagTasks("tasks"),
            Slot::Tasks("errors"),
            Slot::Tasks("finally")
        ]
    ),
    plugin!(
        "io.kestra.plugin.core.flow.Subflow",
        "Subflow",
        TaskKind::Executable,
        &[]
    ),
    plugin!(
        "io.kestra.plugin.core.execution.Labels",
        "Labels",
        TaskKind::ExecutionUpdating,
        &[]
    ),
    plugin!(
        "io.kestra.plugin.core.execution.Exit",
        "Exit",
        TaskKind::ExecutionUpdating,
        &[]
    ),
    plugin!(
        "io.kestra.plugin.core.execution.SetVariables",
        "SetVariables",
        TaskKind::ExecutionUpdating,
        &[]
    ),
    plugin!(
        "io.kestra.plugin.core.execution.UnsetVariables",
        "UnsetVariables",
        TaskKind::ExecutionUpdating,
        &[]
    ),
    PluginInfo {
        type_name: "io.kestra.plugin.core.condition.ExecutionStatus",
        aliases: &["ExecutionStatus"],
        kind: PluginKind::Condition,
        title: "test",
        slots: &[],
        check: accept,
        schema: any_schema,
    },
];

pub struct TestCatalog;

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

pub fn flow(yaml: &str) -> Flow {
    let source = format!("id: test\nnamespace: company.team\n{yaml}");
    match saker_flow::parse_and_validate(&source, None, &TestCatalog) {
        Ok(flow) => flow,
        Err(diagnostics) => panic!("invalid test flow: {diagnostics:#?}"),
    }
}

pub fn start() -> Instant {
    Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).unwrap()
}

enum Step {
    Event(Event),
    /// The fake worker runs an attempt that already started.
    Work(TaskRunId),
}

/// One execution being driven.
pub struct Run {
    pub flow: Flow,
    pub exec: Execution,
    pub trace: Vec<String>,
    pub actions: Vec<Action>,
    pub now: Instant,
    ids: SequentialIds,
    timers: Vec<(Instant, Timer)>,
    queue: VecDeque<Step>,
    executor: Executor,
    /// Child state answered to StartSubflow.
    pub subflow_state: StateType,
    /// Keep armed timers instead of firing them once idle.
    pub hold_timers: bool,
}

impl Run {
    pub fn new(yaml: &str) -> Run {
        Run::with_inputs(yaml, Value::Object(JsonMap::new()))
    }

    /// An execution whose `scheduleDate` is `delay` after the start.
    pub fn scheduled(yaml: &str, delay: TimeDelta) -> Run {
        let mut run = Run::new(yaml);
        run.exec.schedule_date = Some(start() + delay);
        run
    }

    pub fn with_inputs(yaml: &str, inputs: Value) -> Run {
        let flow = flow(yaml);
        let mut ids = SequentialIds::new(7);
        let mut exec = Execution::new(
            ExecutionId::new("exec"),
            &FlowRef::new(&flow.namespace, &flow.id, 1),
            &[],
            Vec::new(),
            start(),
        );
        if let Value::Object(inputs) = inputs {
            exec.inputs = inputs;
        }
        // Keep the id source used: the execution id is fixed for readable snapshots.
        let _ = ids.next_u128();
        Run {
            flow,
            exec,
            trace: Vec::new(),
            actions: Vec::new(),
            now: start(),
            ids,
            timers: Vec::new(),
            queue: VecDeque::new(),
            executor: Executor::new(),
            subflow_state: StateType::Success,
            hold_timers: false,
        }
    }

    /// Starts the execution and drives it until it waits for nothing we simulate.
    pub fn start(mut self) -> Run {
        self.send(Event::Created);
        self
    }

    pub fn send(&mut self, event: Event) {
        self.queue.push_back(Step::Event(event));
        self.drive();
    }

    fn drive(&mut self) {
        loop {
            while let Some(step) = self.queue.pop_front() {
                match step {
                    Step::Event(event) => self.apply(event),
                    Step::Work(id) => {
                        let result = self.work(&id);
                        if let Some(result) = result {
                            self.queue
                                .push_front(Step::Event(Event::TaskRunResult(result)));
                        }
                    }
                }
            }
            if self.timers.is_empty() || self.hold_timers {
                return;
            }
            self.timers.sort_by_key(|(at, _)| *at);
            let (at, timer) = self.timers.remove(0);
            self.now = self.now.max(at);
            self.queue.push_back(Step::Event(Event::TimerFired(timer)));
        }
    }

    fn apply(&mut self, event: Event) {
        self.now += TimeDelta::seconds(1);
        let line = self.event_text(&event);
        self.trace.push(line);
        let actions = self.executor.apply(
            &self.flow,
            &mut self.exec,
            event,
            self.now,
            &mut self.ids,
            &NoEngineServices,
        );
        for action in actions {
            self.trace.push(format!("  {}", self.action_text(&action)));
            match &action {
                // A WorkingDirectory block is the worker's to report (tests send its reports).
                Action::Dispatch { task_id, .. }
                    if self
                        .flow
                        .find_task(task_id)
                        .is_some_and(|t| t.kind == TaskKind::WorkingDirectory) => {}
                Action::Dispatch { task_run_id, .. } => {
                    self.queue.push_back(Step::Event(Event::TaskRunResult(
                        TaskRunResult::running(task_run_id.clone()),
                    )));
                    self.queue.push_back(Step::Work(task_run_id.clone()));
                }
                Action::ArmTimer { at, timer } => self.timers.push((*at, timer.clone())),
                Action::KillTaskRun { task_run_id } => {
                    self.queue
                        .push_back(Step::Event(Event::TaskRunResult(TaskRunResult::ended(
                            task_run_id.clone(),
                            StateType::Killed,
                            None,
                        ))));
                }
                Action::StartSubflow(start) if start.wait => {
                    let mut outputs = JsonMap::new();
                    outputs.insert("child".into(), Value::String(start.flow_id.clone()));
                    self.queue.push_back(Step::Event(Event::SubflowEnded {
                        task_run_id: start.task_run_id.clone(),
                        execution_id: start.execution_id.clone(),
                        state: self.subflow_state,
                        outputs,
                    }));
                }
                _ => {}
            }
            self.actions.push(action);
        }
    }

    /// The fake worker: Log succeeds, Return renders `format`, Fail fails (or checks its
    /// `condition`), Sleep never ends by itself.
    fn work(&self, id: &TaskRunId) -> Option<TaskRunResult> {
        let run = self.exec.find_task_run(id.as_str())?;
        if run.state.current() != StateType::Running {
            return None;
        }
        let task = self.flow.find_task(&run.task_id)?;
        let render = |template: &str| {
            let ctx = saker_engine::render_context(
                &self.flow,
                &self.exec,
                Some(task),
                Some(run),
                &NoEngineServices,
            );
            saker_expr::Engine::new().render(template, &ctx, &saker_expr::NoServices)
        };
        let (state, outputs) = match task.canonical {
            "io.kestra.plugin.core.debug.Return" => {
                let format = task
                    .params
                    .get("format")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                match render(format) {
                    Ok(value) => {
                        let mut outputs = JsonMap::new();
                        outputs.insert("value".into(), Value::String(value));
                        (StateType::Success, Some(outputs))
                    }
                    Err(_) => (StateType::Failed, None),
                }
            }
            "io.kestra.plugin.core.execution.Fail" => {
                match task.params.get("condition").and_then(Value::as_str) {
                    Some(condition) => match render(condition) {
                        Ok(text) if saker_expr::is_truthy_string(&text) => {
                            (StateType::Failed, None)
                        }
                        Ok(_) => (StateType::Success, None),
                        Err(_) => (StateType::Failed, None),
                    },
                    None => (StateType::Failed, None),
                }
            }
            "io.kestra.plugin.core.log.Log" => {
                let message = task
                    .params
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                match render(message) {
                    Ok(_) => (StateType::Success, None),
                    Err(_) => (StateType::Failed, None),
                }
            }
            "io.kestra.plugin.core.output.OutputValues" => {
                let mut values = JsonMap::new();
                let mut ok = true;
                for (key, value) in task
                    .params
                    .get("values")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    match value.as_str().map(render) {
                        Some(Ok(text)) => {
                            values.insert(key.clone(), Value::String(text));
                        }
                        Some(Err(_)) => ok = false,
                        None => {
                            values.insert(key.clone(), value.clone());
                        }
                    }
                }
                let mut outputs = JsonMap::new();
                outputs.insert("values".into(), Value::Object(values));
                if ok {
                    (StateType::Success, Some(outputs))
                } else {
                    (StateType::Failed, None)
                }
            }
            "io.kestra.plugin.core.flow.Sleep" => return None,
            _ => (StateType::Success, None),
        };
        Some(TaskRunResult::ended(id.clone(), state, outputs))
    }

    fn name(&self, id: &TaskRunId) -> String {
        match self.exec.find_task_run(id.as_str()) {
            Some(run) => match &run.value {
                Some(value) => format!("{}[{value}]", run.task_id),
                None => run.task_id.clone(),
            },
            None => format!("?{id}"),
        }
    }

    fn event_text(&self, event: &Event) -> String {
        match event {
            Event::Created => "> created".into(),
            Event::TaskRunResult(result) => {
                format!("> {} {}", self.name(&result.task_run_id), result.state)
            }
            Event::TimerFired(timer) => format!("> timer {}", self.timer_text(timer)),
            Event::KillRequested => "> kill".into(),
            Event::PauseRequested => "> pause".into(),
            Event::ResumeRequested { inputs, .. } => {
                format!("> resume {}", Value::Object(inputs.clone()))
            }
            Event::SubflowEnded {
                task_run_id, state, ..
            } => {
                format!("> subflow {} ended {state}", self.name(task_run_id))
            }
            Event::RestartRequested => "> restart".into(),
            Event::Recovered => "> recovered".into(),
            Event::TaskRunStateChanged { task_run_id, state } => {
                format!("> mark {} {state}", self.name(task_run_id))
            }
            Event::WorkerTaskRuns(report) => {
                let children: Vec<String> = report
                    .children
                    .iter()
                    .map(|c| format!("{} {}", c.task_id, c.result.state))
                    .collect();
                let released = match &report.released {
                    Some(released) => format!(" released {}", released.state),
                    None => String::new(),
                };
                format!(
                    "> block {} [{}]{released}",
                    self.name(&report.task_run_id),
                    children.join(", ")
                )
            }
        }
    }

    fn timer_text(&self, timer: &Timer) -> String {
        match timer {
            Timer::RetryDue { task_run_id } => format!("retry {}", self.name(task_run_id)),
            Timer::PauseDue { task_run_id, to } => {
                format!("pause {} -> {to}", self.name(task_run_id))
            }
            Timer::ScheduleDue => "schedule".into(),
            Timer::SlaDue { sla_id } => format!("sla {sla_id}"),
            Timer::LoopDue {
                task_run_id,
                iteration,
            } => {
                format!("loop {} after #{iteration}", self.name(task_run_id))
            }
        }
    }

    fn action_text(&self, action: &Action) -> String {
        match action {
            Action::Dispatch { task_run_id, .. } => format!("dispatch {}", self.name(task_run_id)),
            Action::StartSubflow(start) => format!(
                "subflow {} {}.{} inputs={} wait={}",
                self.name(&start.task_run_id),
                start.namespace,
                start.flow_id,
                Value::Object(start.inputs.clone()),
                start.wait
            ),
            Action::ArmTimer { at, timer } => {
                format!(
                    "timer {} in {}",
                    self.timer_text(timer),
                    format_duration(*at - self.now)
                )
            }
            Action::Log {
                level,
                task_run_id,
                message,
            } => {
                let who = task_run_id
                    .as_ref()
                    .map(|id| self.name(id))
                    .unwrap_or_else(|| "-".into());
                format!("log {} {who}: {message}", level.as_str())
            }
            Action::KillTaskRun { task_run_id } => format!("kill {}", self.name(task_run_id)),
            Action::CreateReplay { at } => format!("replay in {}", format_duration(*at - self.now)),
            Action::Ended { state } => format!("ended {state}"),
        }
    }

    pub fn state(&self) -> StateType {
        self.exec.state.current()
    }

    /// The task-run list as an indented tree: `id[value]#iteration STATE (attempts) outputs`.
    pub fn tree(&self) -> String {
        let mut out = String::new();
        for run in &self.exec.task_run_list {
            let depth = self.exec.find_parents(run).len();
            out.push_str(&"  ".repeat(depth));
            out.push_str(&run.task_id);
            if let Some(value) = &run.value {
                out.push_str(&format!("[{value}]"));
            }
            if let Some(iteration) = run.iteration {
                out.push_str(&format!("#{iteration}"));
            }
            out.push_str(&format!(" {}", run.state.current()));
            if !run.attempts.is_empty() {
                let states: Vec<String> = run
                    .attempts
                    .iter()
                    .map(|a| a.state.current().to_string())
                    .collect();
                out.push_str(&format!(" attempts=[{}]", states.join(",")));
            }
            if let Some(outputs) = run.outputs.as_ref().filter(|o| !o.is_empty()) {
                out.push_str(&format!(" {}", Value::Object(outputs.clone())));
            }
            out.push('\n');
        }
        out
    }

    /// Trace, then the task-run tree, then the execution state: what snapshots record.
    pub fn report(&self) -> String {
        format!(
            "{}\n---\n{}---\n{}\n",
            self.trace.join("\n"),
            self.tree(),
            self.state()
        )
    }

    /// The state of the only run of `task_id`.
    pub fn task_state(&self, task_id: &str) -> StateType {
        let runs: Vec<_> = self.exec.task_runs_by_task_id(task_id).collect();
        assert_eq!(
            runs.len(),
            1,
            "expected one run of {task_id}, got {}",
            runs.len()
        );
        runs[0].state.current()
    }

    pub fn run_id(&self, task_id: &str) -> TaskRunId {
        self.exec
            .task_runs_by_task_id(task_id)
            .next()
            .expect("no such run")
            .id
            .clone()
    }

    pub fn count(&self, task_id: &str) -> usize {
        self.exec.task_runs_by_task_id(task_id).count()
    }

    pub fn logs(&self) -> Vec<String> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                Action::Log { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }
}

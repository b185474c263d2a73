//! A small, self-contained [`Catalog`] of core plugin types, for tests of this crate and of tools
//! that must not depend on the real registry. Each plugin checks required/known properties only.

use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

use crate::catalog::{Catalog, ParamError, PluginInfo, PluginKind, Slot, TaskKind};

macro_rules! checker {
    ($name:ident, $class:expr, required: [$($req:expr),*], known: [$($known:expr),*]) => {
        fn $name(props: &Map<String, Value>) -> Vec<ParamError> {
            check_props(props, $class, &[$($req),*], &[$($known),*])
        }
    };
}

fn check_props(
    props: &Map<String, Value>,
    class: &str,
    required: &[&str],
    known: &[&str],
) -> Vec<ParamError> {
    let mut errors = Vec::new();
    for r in required {
        if props.get(*r).is_none_or(Value::is_null) {
            errors.push(ParamError {
                path: String::new(),
                message: format!("missing required property \"{r}\""),
            });
        }
    }
    for k in props.keys() {
        if !known.contains(&k.as_str()) && !required.contains(&k.as_str()) {
            let all: Vec<String> = required
                .iter()
                .chain(known)
                .map(|k| format!("\"{k}\""))
                .collect();
            errors.push(ParamError {
                path: k.clone(),
                message: format!(
                    "Unrecognized field \"{k}\" (class {class}), not marked as ignorable ({} known properties: {}])",
                    all.len(),
                    all.join(", ")
                ),
            });
        }
    }
    errors
}

fn any_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object"})
}

fn log_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "properties": {"message": {"type": "string"}, "level": {"enum": ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]}}, "required": ["message"]})
}

checker!(check_log, "io.kestra.plugin.core.log.Log", required: ["message"], known: ["level"]);
checker!(check_return, "io.kestra.plugin.core.debug.Return", required: [], known: ["format"]);
checker!(check_none, "io.kestra.plugin.core.flow.Sequential", required: [], known: []);
checker!(check_template, "io.kestra.plugin.core.flow.Template", required: ["namespace", "templateId"], known: ["args"]);
checker!(check_parallel, "io.kestra.plugin.core.flow.Parallel", required: [], known: ["concurrent"]);
checker!(check_if, "io.kestra.plugin.core.flow.If", required: ["condition"], known: []);
checker!(check_switch, "io.kestra.plugin.core.flow.Switch", required: ["value"], known: []);
checker!(check_foreach, "io.kestra.plugin.core.flow.ForEach", required: ["values"], known: ["concurrencyLimit"]);
checker!(check_subflow, "io.kestra.plugin.core.flow.Subflow", required: ["namespace", "flowId"], known: ["inputs", "wait", "transmitFailed", "labels", "revision", "inheritLabels", "scheduleDate", "restartBehavior", "outputs"]);
checker!(check_pause, "io.kestra.plugin.core.flow.Pause", required: [], known: ["pauseDuration", "delay", "behavior", "onResume", "onPause"]);
checker!(check_fail, "io.kestra.plugin.core.execution.Fail", required: [], known: ["condition", "errorMessage"]);
checker!(check_commands, "io.kestra.plugin.scripts.shell.Commands", required: ["commands"], known: ["containerImage", "beforeCommands", "interpreter", "env", "outputFiles", "inputFiles"]);
checker!(check_schedule, "io.kestra.plugin.core.trigger.Schedule", required: ["cron"], known: ["withSeconds", "timezone", "inputs", "lateMaximumDelay", "recoverMissedSchedules", "backfill"]);
checker!(check_webhook, "io.kestra.plugin.core.trigger.Webhook", required: ["key"], known: ["wait", "returnOutputs"]);
checker!(check_status, "io.kestra.plugin.core.condition.ExecutionStatus", required: [], known: ["in", "notIn"]);
checker!(check_expression, "io.kestra.plugin.core.condition.Expression", required: ["expression"], known: []);
checker!(check_process, "io.kestra.plugin.core.runner.Process", required: [], known: []);

const FLOWABLE_SLOTS: &[Slot] = &[
    Slot::Tasks("tasks"),
    Slot::Tasks("errors"),
    Slot::Tasks("finally"),
];

/// The plugins of [`TestCatalog`].
pub static PLUGINS: &[PluginInfo] = &[
    PluginInfo {
        type_name: "io.kestra.plugin.core.log.Log",
        aliases: &["io.kestra.core.tasks.log.Log"],
        kind: PluginKind::Task(TaskKind::Runnable),
        title: "Log a message.",
        slots: &[],
        check: check_log,
        schema: log_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.debug.Return",
        aliases: &["io.kestra.core.tasks.debugs.Return"],
        kind: PluginKind::Task(TaskKind::Runnable),
        title: "Return a value.",
        slots: &[],
        check: check_return,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.execution.Fail",
        aliases: &[],
        kind: PluginKind::Task(TaskKind::Runnable),
        title: "Fail the execution.",
        slots: &[],
        check: check_fail,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.flow.Sequential",
        aliases: &["io.kestra.core.tasks.flows.Sequential"],
        kind: PluginKind::Task(TaskKind::Flowable),
        title: "Run tasks one after another.",
        slots: FLOWABLE_SLOTS,
        check: check_none,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.flow.Template",
        aliases: &["io.kestra.core.tasks.flows.Template"],
        kind: PluginKind::Task(TaskKind::Flowable),
        title: "Include a stored template (deprecated).",
        slots: &[Slot::Tasks("errors"), Slot::Tasks("finally")],
        check: check_template,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.flow.Parallel",
        aliases: &[],
        kind: PluginKind::Task(TaskKind::Flowable),
        title: "Run tasks in parallel.",
        slots: FLOWABLE_SLOTS,
        check: check_parallel,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.flow.ForEach",
        aliases: &[],
        kind: PluginKind::Task(TaskKind::Flowable),
        title: "Run tasks for each value.",
        slots: FLOWABLE_SLOTS,
        check: check_foreach,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.flow.If",
        aliases: &[],
        kind: PluginKind::Task(TaskKind::Flowable),
        title: "Branch on a condition.",
        slots: &[
            Slot::Tasks("then"),
            Slot::Tasks("else"),
            Slot::Tasks("errors"),
            Slot::Tasks("finally"),
        ],
        check: check_if,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.flow.Switch",
        aliases: &[],
        kind: PluginKind::Task(TaskKind::Flowable),
        title: "Branch on a value.",
        slots: &[
            Slot::TaskMap("cases"),
            Slot::Tasks("defaults"),
            Slot::Tasks("errors"),
            Slot::Tasks("finally"),
        ],
        check: check_switch,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.flow.Dag",
        aliases: &[],
        kind: PluginKind::Task(TaskKind::Flowable),
        title: "Run tasks as a graph.",
        slots: &[
            Slot::DagTasks("tasks"),
            Slot::Tasks("errors"),
            Slot::Tasks("finally"),
        ],
        check: check_parallel,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.flow.WorkingDirectory",
        aliases: &[],
        kind: PluginKind::Task(TaskKind::WorkingDirectory),
        title: "Run tasks in one working directory.",
        slots: FLOWABLE_SLOTS,
        check: check_none,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.flow.Pause",
        aliases: &[],
        kind: PluginKind::Task(TaskKind::Flowable),
        title: "Pause the execution.",
        slots: FLOWABLE_SLOTS,
        check: check_pause,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.flow.Subflow",
        aliases: &["io.kestra.core.tasks.flows.Flow"],
        kind: PluginKind::Task(TaskKind::Executable),
        title: "Start a subflow.",
        slots: &[],
        check: check_subflow,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.scripts.shell.Commands",
        aliases: &[],
        kind: PluginKind::Task(TaskKind::Runnable),
        title: "Run shell commands.",
        slots: &[Slot::Typed {
            prop: "taskRunner",
            kind: PluginKind::TaskRunner,
            many: false,
        }],
        check: check_commands,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.trigger.Schedule",
        aliases: &["io.kestra.core.models.triggers.types.Schedule"],
        kind: PluginKind::Trigger,
        title: "Schedule executions.",
        slots: &[],
        check: check_schedule,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.trigger.Webhook",
        aliases: &[],
        kind: PluginKind::Trigger,
        title: "Start executions from HTTP calls.",
        slots: &[],
        check: check_webhook,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.condition.ExecutionStatus",
        aliases: &[],
        kind: PluginKind::Condition,
        title: "Execution state condition.",
        slots: &[],
        check: check_status,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.condition.Expression",
        aliases: &["io.kestra.plugin.core.condition.ExpressionCondition"],
        kind: PluginKind::Condition,
        title: "Expression condition.",
        slots: &[],
        check: check_expression,
        schema: any_schema,
    },
    PluginInfo {
        type_name: "io.kestra.plugin.core.runner.Process",
        aliases: &[],
        kind: PluginKind::TaskRunner,
        title: "Run on the worker host.",
        slots: &[],
        check: check_process,
        schema: any_schema,
    },
];

/// A catalog over [`PLUGINS`].
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

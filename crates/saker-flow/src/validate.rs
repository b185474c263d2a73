//! Building the typed model from the document tree while collecting every problem.
//!
//! Each builder reads one object of the flow document with [`Obj`], which remembers which keys
//! were read so unknown properties are reported at every level. Builders never stop at the
//! first problem: a bad part is reported and skipped, and the rest is still checked.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::catalog::{
    CONDITION_COMMON_PROPS, Catalog, PluginInfo, PluginKind, Slot, TASK_COMMON_PROPS,
    TRIGGER_COMMON_PROPS, TaskKind,
};
use crate::defaults::{self, DefaultSpec};
use crate::diag::{Diagnostic, Severity, codes};
use crate::expr;
use crate::model::*;
use crate::yaml::{Entry, Node, NodeValue, Pos, join_index, join_key, join_path};

pub(crate) static FLOW_ID_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$"));
pub(crate) static NAMESPACE_RE: LazyLock<Regex> = LazyLock::new(|| re(r"^[a-z0-9][a-z0-9._-]*$"));
pub(crate) static TASK_ID_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$"));
pub(crate) static INPUT_ID_RE: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[a-zA-Z0-9][.a-zA-Z0-9_-]*$"));

fn re(s: &str) -> Regex {
    // The patterns above are constants checked by the tests; an empty fallback never matches
    // anything, it cannot be reached.
    Regex::new(s).unwrap_or_else(|_| Regex::new("$^").unwrap_or_else(|_| unreachable!()))
}

pub(crate) const RESERVED_FLOW_IDS: &[&str] = &[
    "pause",
    "resume",
    "force-run",
    "change-status",
    "kill",
    "executions",
    "search",
    "source",
    "disable",
    "enable",
];

pub(crate) const FLOW_PROPS: &[&str] = &[
    "id",
    "namespace",
    "revision",
    "description",
    "labels",
    "inputs",
    "variables",
    "tasks",
    "errors",
    "finally",
    "afterExecution",
    "listeners",
    "triggers",
    "pluginDefaults",
    "taskDefaults",
    "concurrency",
    "outputs",
    "retry",
    "sla",
    "checks",
    "disabled",
    "deleted",
    "workerGroup",
    "tenantId",
];

const SUBFLOW: &str = "io.kestra.plugin.core.flow.Subflow";
const FOR_EACH_ITEM: &str = "io.kestra.plugin.core.flow.ForEachItem";
const SWITCH: &str = "io.kestra.plugin.core.flow.Switch";
const PAUSE: &str = "io.kestra.plugin.core.flow.Pause";
const SCHEDULE: &str = "io.kestra.plugin.core.trigger.Schedule";

/// Validation state for one document.
pub(crate) struct Cx<'a> {
    pub catalog: &'a dyn Catalog,
    pub file: Option<PathBuf>,
    pub source: &'a str,
    pub diags: Vec<Diagnostic>,
    /// Every task id seen, with its path and position, in document order.
    pub task_ids: Vec<(String, Pos)>,
    /// Paths of properties injected by plugin defaults.
    pub defaulted: HashSet<String>,
}

impl<'a> Cx<'a> {
    pub fn push(
        &mut self,
        severity: Severity,
        code: &'static str,
        path: &str,
        pos: Pos,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.diags.push(Diagnostic {
            code,
            severity,
            file: self.file.clone(),
            path: path.to_string(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
            help,
        });
    }
    pub fn err(&mut self, code: &'static str, path: &str, pos: Pos, message: impl Into<String>) {
        self.push(Severity::Error, code, path, pos, message, None);
    }
    pub fn err_help(
        &mut self,
        code: &'static str,
        path: &str,
        pos: Pos,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.push(Severity::Error, code, path, pos, message, Some(help.into()));
    }
    pub fn warn(
        &mut self,
        code: &'static str,
        path: &str,
        pos: Pos,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.push(Severity::Warning, code, path, pos, message, help);
    }
}

/// Reads one mapping of the document, tracking which keys were consumed.
pub(crate) struct Obj<'n> {
    pub node: &'n Node,
    pub entries: &'n [Entry],
    pub path: String,
    used: Vec<bool>,
}

impl<'n> Obj<'n> {
    /// `None` (and a diagnostic) when `node` is not a mapping.
    pub fn new(cx: &mut Cx<'_>, node: &'n Node, path: &str, what: &str) -> Option<Obj<'n>> {
        match &node.value {
            NodeValue::Map(entries) => Some(Obj {
                node,
                entries,
                path: path.to_string(),
                used: vec![false; entries.len()],
            }),
            _ => {
                cx.err(
                    codes::WRONG_TYPE,
                    path,
                    node.pos,
                    format!("{what} must be a map, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    pub fn take(&mut self, key: &str) -> Option<&'n Entry> {
        let i = self.entries.iter().position(|e| e.key == key)?;
        self.used[i] = true;
        Some(&self.entries[i])
    }

    /// The value of `key` unless absent or null.
    pub fn value(&mut self, key: &str) -> Option<&'n Node> {
        self.take(key).map(|e| &e.value).filter(|n| !n.is_null())
    }

    pub fn key_path(&self, key: &str) -> String {
        join_key(&self.path, key)
    }

    /// A scalar as text (Jackson coerces numbers/booleans to String properties).
    pub fn string(&mut self, cx: &mut Cx<'_>, key: &str) -> Option<String> {
        let n = self.value(key)?;
        match n.scalar_text() {
            Some(s) => Some(s),
            None => {
                cx.err(
                    codes::WRONG_TYPE,
                    &self.key_path(key),
                    n.pos,
                    format!("`{key}` must be a string, found {}", n.kind_name()),
                );
                None
            }
        }
    }

    pub fn bool(&mut self, cx: &mut Cx<'_>, key: &str) -> Option<bool> {
        let n = self.value(key)?;
        match &n.value {
            NodeValue::Bool(b) => Some(*b),
            NodeValue::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
            NodeValue::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => {
                cx.err(
                    codes::WRONG_TYPE,
                    &self.key_path(key),
                    n.pos,
                    format!("`{key}` must be a boolean, found {}", n.kind_name()),
                );
                None
            }
        }
    }

    pub fn int(&mut self, cx: &mut Cx<'_>, key: &str) -> Option<i64> {
        let n = self.value(key)?;
        match &n.value {
            NodeValue::Int(i) => Some(*i),
            NodeValue::Str(s) if s.trim().parse::<i64>().is_ok() => s.trim().parse().ok(),
            _ => {
                cx.err(
                    codes::WRONG_TYPE,
                    &self.key_path(key),
                    n.pos,
                    format!("`{key}` must be an integer, found {}", n.kind_name()),
                );
                None
            }
        }
    }

    /// A list of scalars as strings.
    pub fn strings(&mut self, cx: &mut Cx<'_>, key: &str) -> Option<Vec<String>> {
        let n = self.value(key)?;
        let path = self.key_path(key);
        let Some(items) = n.as_seq() else {
            cx.err(
                codes::WRONG_TYPE,
                &path,
                n.pos,
                format!("`{key}` must be a list, found {}", n.kind_name()),
            );
            return None;
        };
        let mut out = Vec::new();
        for (i, it) in items.iter().enumerate() {
            match it.scalar_text() {
                Some(s) => out.push(s),
                None => cx.err(
                    codes::WRONG_TYPE,
                    &join_index(&path, i),
                    it.pos,
                    format!("must be a string, found {}", it.kind_name()),
                ),
            }
        }
        Some(out)
    }

    /// One of `allowed` (exact, as Jackson enums).
    pub fn enum_of(&mut self, cx: &mut Cx<'_>, key: &str, allowed: &[&str]) -> Option<String> {
        let n = self.value(key)?;
        let s = n.scalar_text();
        match s {
            Some(s) if allowed.contains(&s.as_str()) => Some(s),
            _ => {
                let shown = s.unwrap_or_else(|| n.kind_name().to_string());
                cx.err_help(
                    codes::BAD_VALUE,
                    &self.key_path(key),
                    n.pos,
                    format!("invalid value `{shown}` for `{key}`"),
                    format!("expected one of: {}", allowed.join(", ")),
                );
                None
            }
        }
    }

    /// Entries not read yet.
    pub fn rest(&self) -> impl Iterator<Item = &'n Entry> + '_ {
        self.entries
            .iter()
            .zip(&self.used)
            .filter(|(_, u)| !**u)
            .map(|(e, _)| e)
    }

    /// Reports every entry not read as an unknown property (Jackson's wording).
    pub fn finish(self, cx: &mut Cx<'_>, class: &str, known: &[&str]) {
        for e in self.rest() {
            unknown_property(cx, &self.path, e, class, known);
        }
    }
}

pub(crate) fn unknown_property(
    cx: &mut Cx<'_>,
    parent: &str,
    e: &Entry,
    class: &str,
    known: &[&str],
) {
    let list = known
        .iter()
        .map(|k| format!("\"{k}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let message = format!(
        "Unrecognized field \"{}\" (class {class}), not marked as ignorable ({} known properties: {list}])",
        e.key,
        known.len()
    );
    let help = did_you_mean(&e.key, known.iter().copied()).map(|s| format!("did you mean `{s}`?"));
    cx.push(
        Severity::Error,
        codes::UNKNOWN_PROPERTY,
        &join_key(parent, &e.key),
        e.key_pos,
        message,
        help,
    );
}

/// The closest candidate, if close enough to be a likely typo.
pub(crate) fn did_you_mean<'c>(
    word: &str,
    candidates: impl Iterator<Item = &'c str>,
) -> Option<&'c str> {
    candidates
        .map(|c| {
            (
                strsim::jaro_winkler(&word.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(s, _)| *s >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// A registered type name close to `type_name`, for plugins of `kind` (task kinds together).
fn suggest_type(
    catalog: &dyn Catalog,
    type_name: &str,
    kind: Option<PluginKind>,
) -> Option<&'static str> {
    let simple = |n: &str| n.rsplit('.').next().unwrap_or(n).to_lowercase();
    let wanted = simple(type_name);
    let mut best: Option<(f64, &'static str)> = None;
    for p in catalog.plugins() {
        let same_kind = match (kind, p.kind) {
            (None, _) => true,
            (Some(PluginKind::Task(_)), PluginKind::Task(_)) => true,
            (Some(k), pk) => k == pk,
        };
        if !same_kind {
            continue;
        }
        for name in std::iter::once(p.type_name).chain(p.aliases.iter().copied()) {
            let score = strsim::jaro_winkler(type_name, name)
                .max(strsim::jaro_winkler(&wanted, &simple(name)) * 0.95);
            if score >= 0.85 && best.is_none_or(|(s, _)| score > s) {
                // Suggest the current name even when the closest spelling is an alias.
                best = Some((score, p.type_name));
            }
        }
    }
    best.map(|(_, n)| n)
}

fn kind_label(kind: PluginKind) -> &'static str {
    match kind {
        PluginKind::Task(_) => "task",
        PluginKind::Trigger => "trigger",
        PluginKind::Condition => "condition",
        PluginKind::TaskRunner => "task runner",
    }
}

fn same_kind(a: PluginKind, b: PluginKind) -> bool {
    matches!((a, b), (PluginKind::Task(_), PluginKind::Task(_))) || a == b
}

/// Resolves the `type` of a plugin object: reports a missing/unknown/wrong-kind type.
fn resolve_type<'c>(
    cx: &mut Cx<'c>,
    o: &mut Obj<'_>,
    expected: PluginKind,
    list_prop: &str,
) -> Option<(String, &'c PluginInfo)> {
    let catalog: &'c dyn Catalog = cx.catalog;
    let Some(entry) = o.take("type") else {
        cx.err(
            codes::MISSING_TYPE,
            &o.path,
            o.node.pos,
            format!("missing type id property 'type' (for POJO property '{list_prop}')"),
        );
        return None;
    };
    let path = o.key_path("type");
    let Some(type_name) = entry.value.as_str().map(str::to_string) else {
        cx.err(
            codes::MISSING_TYPE,
            &path,
            entry.value.pos,
            format!(
                "Invalid type: {}",
                entry.value.scalar_text().unwrap_or_else(|| "null".into())
            ),
        );
        return None;
    };
    let Some(info) = catalog.get(&type_name) else {
        let help = suggest_type(catalog, &type_name, Some(expected))
            .map(|s| format!("did you mean `{s}`?"));
        cx.push(
            Severity::Error,
            codes::UNKNOWN_TYPE,
            &path,
            entry.value.pos,
            format!("Invalid type: {type_name}"),
            help,
        );
        return None;
    };
    if !same_kind(info.kind, expected) {
        cx.err_help(
            codes::WRONG_KIND,
            &path,
            entry.value.pos,
            format!(
                "`{type_name}` is a {}, it cannot be used as a {}",
                kind_label(info.kind),
                kind_label(expected)
            ),
            format!("`{list_prop}` only accepts {} types", kind_label(expected)),
        );
        return None;
    }
    if info.type_name != type_name {
        cx.push(
            Severity::Info,
            codes::LEGACY_TYPE,
            &path,
            entry.value.pos,
            format!("{type_name} is replaced by {}", info.type_name),
            Some(format!("use `type: {}`", info.type_name)),
        );
    }
    Some((type_name, info))
}

/// What a nested plugin builder returns for its slots.
struct SlotsOut {
    branches: Vec<Branch>,
    plugins: Vec<(String, Vec<Plugin>)>,
}

impl<'a> Cx<'a> {
    // ------------------------------------------------------------------ tasks

    pub fn task_list(&mut self, node: Option<&Node>, path: &str) -> Vec<Task> {
        let Some(node) = node.filter(|n| !n.is_null()) else {
            return Vec::new();
        };
        let Some(items) = node.as_seq() else {
            self.err(
                codes::WRONG_TYPE,
                path,
                node.pos,
                format!("must be a list of tasks, found {}", node.kind_name()),
            );
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, n)| self.task(n, &join_index(path, i), path))
            .collect()
    }

    fn task_id(&mut self, o: &mut Obj<'_>) -> Option<String> {
        let Some(entry) = o.take("id") else {
            self.err(
                codes::MISSING,
                &o.path,
                o.node.pos,
                "missing required property \"id\"",
            );
            return None;
        };
        let path = o.key_path("id");
        let Some(id) = entry.value.scalar_text() else {
            self.err(
                codes::WRONG_TYPE,
                &path,
                entry.value.pos,
                "`id` must be a string",
            );
            return None;
        };
        if !TASK_ID_RE.is_match(&id) {
            self.err_help(
                codes::BAD_ID,
                &path,
                entry.value.pos,
                format!("must match \"^[a-zA-Z0-9][a-zA-Z0-9_-]*\" (invalid id `{id}`)"),
                "ids use letters, digits, `_` and `-`, and start with a letter or digit",
            );
        } else if id.len() > 256 {
            self.err(
                codes::BAD_ID,
                &path,
                entry.value.pos,
                "size must be between 1 and 256",
            );
        }
        self.task_ids.push((id.clone(), entry.value.pos));
        Some(id)
    }

    fn task(&mut self, node: &Node, path: &str, list_path: &str) -> Option<Task> {
        let mut o = Obj::new(self, node, path, "a task")?;
        let id = self.task_id(&mut o);
        let list_prop = list_path
            .rsplit(['.', '['])
            .next()
            .unwrap_or("tasks")
            .trim_end_matches(']')
            .to_string();
        let resolved = resolve_type(
            self,
            &mut o,
            PluginKind::Task(TaskKind::Runnable),
            &list_prop,
        );
        let Some((type_name, info)) = resolved else {
            // Still collect the ids of children we can see, for duplicate detection.
            for key in ["tasks", "then", "else", "errors", "finally", "defaults"] {
                if let Some(n) = o.value(key) {
                    let _ = self.task_list(Some(n), &join_key(path, key));
                }
            }
            return None;
        };
        let PluginKind::Task(kind) = info.kind else {
            return None;
        };
        let common = self.task_common(&mut o);
        let slots = self.slots(&mut o, info);
        let params = self.params(&o, info, path);
        let id = id?;
        let mut task = Task {
            id,
            type_name,
            canonical: info.type_name,
            kind,
            common,
            params,
            branches: slots.branches,
            plugins: slots.plugins,
            path: path.to_string(),
            unresolved: None,
        };
        self.task_rules(&task, node);
        if task.canonical == FOR_EACH_ITEM {
            let steps = crate::model::for_each_item::steps(&task);
            task.branches.insert(0, steps);
        }
        Some(task)
    }

    fn task_common(&mut self, o: &mut Obj<'_>) -> TaskCommon {
        let mut c = TaskCommon {
            description: o.string(self, "description"),
            version: o.string(self, "version"),
            ..Default::default()
        };
        if let Some(n) = o.value("retry") {
            c.retry = self.retry(n, &o.key_path("retry"));
        }
        c.timeout = o.string(self, "timeout");
        if let (Some(t), Some(e)) = (&c.timeout, o.entries.iter().find(|e| e.key == "timeout")) {
            self.duration(t, &o.key_path("timeout"), e.value.pos);
        }
        c.disabled = o.bool(self, "disabled").unwrap_or(false);
        c.run_if = o.string(self, "runIf");
        c.allow_failure = o.bool(self, "allowFailure").unwrap_or(false);
        c.allow_warning = o.bool(self, "allowWarning").unwrap_or(false);
        c.log_level = o
            .enum_of(
                self,
                "logLevel",
                &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"],
            )
            .and_then(|s| LogLevel::parse(&s));
        c.log_to_file = o.bool(self, "logToFile").unwrap_or(false);
        if let Some(e) = o.take("workerGroup") {
            self.enterprise_only(&o.key_path("workerGroup"), e);
            c.worker_group = Some(e.value.to_json());
        }
        if let Some(n) = o.value("taskCache") {
            let path = o.key_path("taskCache");
            if let Some(mut t) = Obj::new(self, n, &path, "`taskCache`") {
                let enabled = t.bool(self, "enabled").unwrap_or(false);
                let ttl = t.string(self, "ttl");
                if let (Some(ttl), Some(e)) = (&ttl, t.entries.iter().find(|e| e.key == "ttl")) {
                    self.duration(ttl, &t.key_path("ttl"), e.value.pos);
                }
                t.finish(
                    self,
                    "io.kestra.core.models.tasks.Cache",
                    &["enabled", "ttl"],
                );
                c.task_cache = Some(TaskCache { enabled, ttl });
            }
        }
        c
    }

    fn enterprise_only(&mut self, path: &str, e: &Entry) {
        self.err_help(
            codes::ENTERPRISE_ONLY,
            path,
            e.key_pos,
            "Worker Group is an Enterprise Edition functionality\n",
            "remove `workerGroup`: every task runs on the local workers",
        );
    }

    /// Reads the plugin's slots (nested tasks and typed plugins).
    fn slots(&mut self, o: &mut Obj<'_>, info: &PluginInfo) -> SlotsOut {
        let mut out = SlotsOut {
            branches: Vec::new(),
            plugins: Vec::new(),
        };
        for slot in info.slots {
            let prop = slot.prop();
            let path = o.key_path(prop);
            let entry = o.take(prop);
            let node = entry.map(|e| &e.value).filter(|n| !n.is_null());
            match *slot {
                Slot::Tasks(p) => {
                    // Absent lists are empty branches, so `branch("else")` always answers.
                    let tasks = self.task_list(node, &path);
                    out.branches.push(Branch {
                        name: p.into(),
                        slot: *slot,
                        case: None,
                        tasks,
                        depends_on: Vec::new(),
                    });
                }
                Slot::Task(p) => {
                    let tasks = node
                        .and_then(|n| self.task(n, &path, &path))
                        .into_iter()
                        .collect();
                    out.branches.push(Branch {
                        name: p.into(),
                        slot: *slot,
                        case: None,
                        tasks,
                        depends_on: Vec::new(),
                    });
                }
                Slot::TaskMap(p) => {
                    let Some(n) = node else { continue };
                    let Some(entries) = n.as_map() else {
                        self.err(
                            codes::WRONG_TYPE,
                            &path,
                            n.pos,
                            format!("`{p}` must be a map of task lists, found {}", n.kind_name()),
                        );
                        continue;
                    };
                    for e in entries {
                        let case_path = join_key(&path, &e.key);
                        let tasks = self.task_list(Some(&e.value), &case_path);
                        out.branches.push(Branch {
                            name: format!("{p}.{}", e.key),
                            slot: *slot,
                            case: Some(e.key.clone()),
                            tasks,
                            depends_on: Vec::new(),
                        });
                    }
                }
                Slot::DagTasks(p) => {
                    let mut branch = Branch {
                        name: p.into(),
                        slot: *slot,
                        case: None,
                        tasks: Vec::new(),
                        depends_on: Vec::new(),
                    };
                    if let Some(n) = node {
                        match n.as_seq() {
                            None => self.err(
                                codes::WRONG_TYPE,
                                &path,
                                n.pos,
                                format!("`{p}` must be a list, found {}", n.kind_name()),
                            ),
                            Some(items) => {
                                for (i, it) in items.iter().enumerate() {
                                    let ipath = join_index(&path, i);
                                    let Some(mut d) = Obj::new(self, it, &ipath, "a Dag entry")
                                    else {
                                        continue;
                                    };
                                    let deps = d.strings(self, "dependsOn").unwrap_or_default();
                                    let task = match d.value("task") {
                                        Some(t) => self.task(t, &d.key_path("task"), &ipath),
                                        None => {
                                            self.err(
                                                codes::MISSING,
                                                &ipath,
                                                it.pos,
                                                "missing required property \"task\"",
                                            );
                                            None
                                        }
                                    };
                                    d.finish(
                                        self,
                                        "io.kestra.plugin.core.flow.Dag$DagTask",
                                        &["task", "dependsOn"],
                                    );
                                    if let Some(t) = task {
                                        branch.tasks.push(t);
                                        branch.depends_on.push(deps);
                                    }
                                }
                            }
                        }
                    }
                    out.branches.push(branch);
                }
                Slot::Typed { prop, kind, many } => {
                    let Some(n) = node else { continue };
                    let plugins = self.typed_plugins(n, &path, prop, kind, many);
                    out.plugins.push((prop.to_string(), plugins));
                }
            }
        }
        out
    }

    fn typed_plugins(
        &mut self,
        n: &Node,
        path: &str,
        prop: &str,
        kind: PluginKind,
        many: bool,
    ) -> Vec<Plugin> {
        match (&n.value, many) {
            (NodeValue::Seq(items), true) => items
                .iter()
                .enumerate()
                .filter_map(|(i, it)| self.plugin(it, &join_index(path, i), kind, prop))
                .collect(),
            // A map of named plugins (MultipleCondition `conditions`), or a single plugin.
            (NodeValue::Map(entries), true) if n.get("type").is_none() => entries
                .iter()
                .filter_map(|e| self.plugin(&e.value, &join_key(path, &e.key), kind, prop))
                .collect(),
            (NodeValue::Map(_), _) => self.plugin(n, path, kind, prop).into_iter().collect(),
            _ => {
                self.err(
                    codes::WRONG_TYPE,
                    path,
                    n.pos,
                    format!(
                        "`{prop}` must be {}, found {}",
                        if many { "a list" } else { "a map" },
                        n.kind_name()
                    ),
                );
                Vec::new()
            }
        }
    }

    /// The plugin's own properties, checked by the plugin.
    fn params(&mut self, o: &Obj<'_>, info: &PluginInfo, path: &str) -> Map<String, Value> {
        let mut params: Map<String, Value> = o
            .rest()
            .map(|e| (e.key.clone(), e.value.to_json()))
            .collect();
        let errors = (info.check)(&params);
        for e in errors {
            let full = join_path(path, &e.path);
            let pos = o.node.locate_nearest(&e.path);
            let top = e.path.split(['.', '[']).next().unwrap_or("");
            if e.message.starts_with("Unrecognized field")
                && self.defaulted.contains(&join_key(path, top))
            {
                // Kestra ignores defaults it cannot apply; so do we, loudly.
                self.warn(
                    codes::PLUGIN_DEFAULTS,
                    &full,
                    pos,
                    format!("plugin default ignored: {}", e.message),
                    Some(
                        "this property comes from `pluginDefaults` and does not exist on this type"
                            .into(),
                    ),
                );
                params.remove(top);
                continue;
            }
            let help = if e.message.starts_with("Unrecognized field") {
                let field = e.path.rsplit('.').next().unwrap_or(&e.path);
                let known: Vec<&str> = e.message.split('"').skip(1).step_by(2).skip(1).collect();
                did_you_mean(field, known.into_iter()).map(|s| format!("did you mean `{s}`?"))
            } else {
                None
            };
            let code = if e.message.starts_with("Unrecognized field") {
                codes::UNKNOWN_PROPERTY
            } else {
                codes::PLUGIN_PARAM
            };
            self.push(Severity::Error, code, &full, pos, e.message, help);
        }
        params
    }

    /// Rules Kestra enforces on specific flowables (spec §4.1).
    fn task_rules(&mut self, task: &Task, node: &Node) {
        let id = &task.id;
        let path = &task.path;
        let prop_pos = |p: &str| node.entry(p).map_or(node.pos, |e| e.key_pos);
        // Emptiness is judged on the document, not on the tasks that could be built: a list
        // holding only unknown types is not empty.
        let raw_len = |p: &str| node.get(p).and_then(Node::as_seq).map_or(0, <[Node]>::len);
        if task.kind == TaskKind::WorkingDirectory {
            if raw_len("tasks") == 0 {
                self.err(
                    codes::FLOWABLE_RULE,
                    &join_key(path, "tasks"),
                    prop_pos("tasks"),
                    format!("{id}: The 'tasks' property cannot be empty"),
                );
            }
            for t in task.branch_tasks("tasks") {
                if t.kind != TaskKind::Runnable {
                    self.err_help(
                        codes::FLOWABLE_RULE,
                        &t.path,
                        node.locate_nearest(t.path.strip_prefix(path.as_str()).unwrap_or("")),
                        format!("{id}: Only runnable tasks are allowed as children of a WorkingDirectory task"),
                        format!("`{}` is a {:?} task", t.id, t.kind),
                    );
                }
            }
        } else {
            for b in &task.branches {
                let required = match b.slot {
                    Slot::Tasks("tasks") => task.canonical != PAUSE,
                    Slot::Tasks("then") | Slot::DagTasks(_) => true,
                    _ => false,
                };
                if required && raw_len(&b.name) == 0 {
                    self.err(
                        codes::EMPTY,
                        &join_key(path, &b.name),
                        prop_pos(&b.name),
                        "must not be empty",
                    );
                }
            }
        }
        if task.canonical == SWITCH {
            let cases = node.get("cases").and_then(Node::as_map).is_some_and(|m| {
                m.iter()
                    .any(|e| e.value.as_seq().is_some_and(|s| !s.is_empty()))
            });
            let any = cases || raw_len("defaults") > 0;
            if !any {
                self.err(
                    codes::FLOWABLE_RULE,
                    path,
                    node.pos,
                    format!("{id}: No task defined, neither cases or default have any tasks"),
                );
            }
        }
        for b in task
            .branches
            .iter()
            .filter(|b| matches!(b.slot, Slot::DagTasks(_)))
        {
            self.dag_rules(task, b, node);
        }
    }

    fn dag_rules(&mut self, task: &Task, b: &Branch, node: &Node) {
        let ids: Vec<&str> = b.tasks.iter().map(|t| t.id.as_str()).collect();
        let mut unknown = Vec::new();
        for deps in &b.depends_on {
            for d in deps {
                if !ids.contains(&d.as_str()) && !unknown.contains(d) {
                    unknown.push(d.clone());
                }
            }
        }
        let dag_path = join_key(&task.path, &b.name);
        if !unknown.is_empty() {
            self.err_help(
                codes::DAG_UNKNOWN_DEP,
                &dag_path,
                node.entry(&b.name).map_or(node.pos, |e| e.key_pos),
                format!(
                    "{}: Not existing task id in dependency: {}",
                    task.id,
                    unknown.join(", ")
                ),
                format!(
                    "`dependsOn` may only name tasks of this Dag: {}",
                    ids.join(", ")
                ),
            );
        }
        // A task is in a cycle when it can reach itself through dependsOn.
        let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let edges: Vec<Vec<usize>> = b
            .depends_on
            .iter()
            .map(|deps| {
                deps.iter()
                    .filter_map(|d| index.get(d.as_str()).copied())
                    .collect()
            })
            .collect();
        let in_cycle: Vec<&str> = (0..ids.len())
            .filter(|&start| {
                let mut seen = vec![false; ids.len()];
                let mut stack = edges[start].clone();
                while let Some(n) = stack.pop() {
                    if n == start {
                        return true;
                    }
                    if !std::mem::replace(&mut seen[n], true) {
                        stack.extend(&edges[n]);
                    }
                }
                false
            })
            .map(|i| ids[i])
            .collect();
        if !in_cycle.is_empty() {
            self.err(
                codes::DAG_CYCLE,
                &dag_path,
                node.entry(&b.name).map_or(node.pos, |e| e.key_pos),
                format!(
                    "{}: Cyclic dependency detected: {}",
                    task.id,
                    in_cycle.join(", ")
                ),
            );
        }
    }

    // ------------------------------------------------------------------ plugins

    pub(crate) fn plugin(
        &mut self,
        node: &Node,
        path: &str,
        expected: PluginKind,
        list_prop: &str,
    ) -> Option<Plugin> {
        let mut o = Obj::new(self, node, path, &format!("a {}", kind_label(expected)))?;
        let (type_name, info) = resolve_type(self, &mut o, expected, list_prop)?;
        let slots = self.slots(&mut o, info);
        let params = self.params(&o, info, path);
        Some(Plugin {
            type_name,
            canonical: info.type_name,
            kind: info.kind,
            params,
            plugins: slots.plugins,
            path: path.to_string(),
        })
    }

    // ------------------------------------------------------------------ triggers

    pub fn trigger(&mut self, node: &Node, path: &str) -> Option<Trigger> {
        let mut o = Obj::new(self, node, path, "a trigger")?;
        let id = self.task_id_like(&mut o);
        let (type_name, info) = resolve_type(self, &mut o, PluginKind::Trigger, "triggers")?;
        let description = o.string(self, "description");
        let conditions = match o.value("conditions") {
            Some(n) => self.typed_plugins(
                n,
                &o.key_path("conditions"),
                "conditions",
                PluginKind::Condition,
                true,
            ),
            None => Vec::new(),
        };
        let disabled = o.bool(self, "disabled").unwrap_or(false);
        let stop_after = o.strings(self, "stopAfter").unwrap_or_default();
        let labels = match o.value("labels") {
            Some(n) => self.labels(n, &o.key_path("labels")),
            None => Vec::new(),
        };
        let log_level = o
            .enum_of(
                self,
                "logLevel",
                &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"],
            )
            .and_then(|s| LogLevel::parse(&s));
        let log_to_file = o.bool(self, "logToFile").unwrap_or(false);
        let worker_group = o.take("workerGroup").map(|e| {
            self.enterprise_only(&o.key_path("workerGroup"), e);
            e.value.to_json()
        });
        let fail_on_trigger_error = o.bool(self, "failOnTriggerError").unwrap_or(false);
        let slots = self.slots(&mut o, info);
        let params = self.params(&o, info, path);
        if info.type_name == SCHEDULE {
            self.schedule_rules(node, path, &params);
        }
        Some(Trigger {
            id: id?,
            type_name,
            canonical: info.type_name,
            description,
            disabled,
            stop_after,
            labels,
            log_level,
            log_to_file,
            worker_group,
            fail_on_trigger_error,
            conditions,
            params,
            plugins: slots.plugins,
            path: path.to_string(),
        })
    }

    /// Trigger ids: same rules as task ids, but a separate namespace.
    fn task_id_like(&mut self, o: &mut Obj<'_>) -> Option<String> {
        let before = self.task_ids.len();
        let id = self.task_id(o);
        self.task_ids.truncate(before);
        id
    }

    fn schedule_rules(&mut self, node: &Node, path: &str, params: &Map<String, Value>) {
        let Some(Value::String(cron)) = params.get("cron") else {
            return;
        };
        let with_seconds = matches!(params.get("withSeconds"), Some(Value::Bool(true)));
        let pos = node.entry("cron").map_or(node.pos, |e| e.value.pos);
        if let Err(message) = check_cron(cron, with_seconds) {
            self.err(
                codes::CRON,
                &join_key(path, "cron"),
                pos,
                format!("invalid cron expression '{cron}': {message}"),
            );
        }
    }

    // ------------------------------------------------------------------ retry

    pub fn retry(&mut self, node: &Node, path: &str) -> Option<Retry> {
        let mut o = Obj::new(self, node, path, "`retry`")?;
        let type_ = match o.value("type") {
            None => {
                self.err(
                    codes::MISSING_TYPE,
                    path,
                    node.pos,
                    "missing type id property 'type' (for POJO property 'retry')",
                );
                None
            }
            Some(n) => match n.as_str() {
                Some("constant") => Some(RetryType::Constant),
                Some("exponential") => Some(RetryType::Exponential),
                Some("random") => Some(RetryType::Random),
                _ => {
                    self.err_help(
                        codes::BAD_VALUE,
                        &join_key(path, "type"),
                        n.pos,
                        format!("Invalid type: {}", n.scalar_text().unwrap_or_default()),
                        "retry types are `constant`, `exponential` and `random`",
                    );
                    None
                }
            },
        };
        let dur = |cx: &mut Cx<'_>, o: &mut Obj<'_>, key: &str| -> Option<(String, Option<f64>)> {
            let s = o.string(cx, key)?;
            let pos = o
                .entries
                .iter()
                .find(|e| e.key == key)
                .map_or(node.pos, |e| e.value.pos);
            let secs = cx.duration(&s, &o.key_path(key), pos);
            Some((s, secs))
        };
        let interval = dur(self, &mut o, "interval");
        let max_interval = dur(self, &mut o, "maxInterval");
        let min_interval = dur(self, &mut o, "minInterval");
        let max_duration = dur(self, &mut o, "maxDuration");
        let delay_factor = o.value("delayFactor").and_then(|n| match n.value {
            NodeValue::Int(i) => Some(i as f64),
            NodeValue::Float(f) => Some(f),
            _ => None,
        });
        let mut max_attempts = o.int(self, "maxAttempts");
        if let Some(e) = o.take("maxAttempt") {
            self.warn(
                codes::DEPRECATED,
                &join_key(path, "maxAttempt"),
                e.key_pos,
                "`maxAttempt` is deprecated",
                Some("use `maxAttempts`".into()),
            );
            if max_attempts.is_none() {
                max_attempts = match &e.value.value {
                    NodeValue::Int(i) => Some(*i),
                    _ => None,
                };
            }
        }
        let warning_on_retry = o.bool(self, "warningOnRetry").unwrap_or(false);
        let behavior = match o
            .enum_of(
                self,
                "behavior",
                &["RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"],
            )
            .as_deref()
        {
            Some("CREATE_NEW_EXECUTION") => RetryBehavior::CreateNewExecution,
            _ => RetryBehavior::RetryFailedTask,
        };
        let type_ = type_?;
        let (class, mut known): (&str, Vec<&str>) = match type_ {
            RetryType::Constant => (
                "io.kestra.core.models.tasks.retrys.Constant",
                vec!["interval"],
            ),
            RetryType::Exponential => (
                "io.kestra.core.models.tasks.retrys.Exponential",
                vec!["interval", "maxInterval", "delayFactor"],
            ),
            RetryType::Random => (
                "io.kestra.core.models.tasks.retrys.Random",
                vec!["minInterval", "maxInterval"],
            ),
        };
        known.extend([
            "type",
            "maxAttempts",
            "maxAttempt",
            "maxDuration",
            "warningOnRetry",
            "behavior",
        ]);
        let stray: Vec<&str> = ["interval", "maxInterval", "minInterval", "delayFactor"]
            .into_iter()
            .filter(|k| !known.contains(k) && o.entries.iter().any(|e| e.key == *k))
            .collect();
        for k in stray {
            if let Some(e) = o.entries.iter().find(|e| e.key == k) {
                unknown_property(self, path, e, class, &known);
            }
        }
        o.finish(self, class, &known);
        let required: &[(&str, bool)] = match type_ {
            RetryType::Constant => &[("interval", interval.is_some())],
            RetryType::Exponential => &[
                ("interval", interval.is_some()),
                ("maxInterval", max_interval.is_some()),
            ],
            RetryType::Random => &[
                ("minInterval", min_interval.is_some()),
                ("maxInterval", max_interval.is_some()),
            ],
        };
        for (k, present) in required {
            if !present {
                self.err(
                    codes::RETRY,
                    path,
                    node.pos,
                    format!(
                        "missing required property \"{k}\" for a `{}` retry",
                        format!("{type_:?}").to_lowercase()
                    ),
                );
            }
        }
        if let Some(n) = max_attempts
            && n < 1
        {
            self.err(
                codes::RETRY,
                &join_key(path, "maxAttempts"),
                node.locate_nearest("maxAttempts"),
                "must be greater than or equal to 1",
            );
        }
        // Consistency (spec §3.2): interval < maxDuration, interval < maxInterval,
        // minInterval < maxInterval < maxDuration.
        let secs = |d: &Option<(String, Option<f64>)>| d.as_ref().and_then(|d| d.1);
        let mut order = |a: &str, av: Option<f64>, b: &str, bv: Option<f64>| {
            if let (Some(x), Some(y)) = (av, bv)
                && x >= y
            {
                self.err(
                    codes::RETRY,
                    path,
                    node.locate_nearest(a),
                    format!("`{a}` must be shorter than `{b}`"),
                );
            }
        };
        if type_ != RetryType::Random {
            order(
                "interval",
                secs(&interval),
                "maxDuration",
                secs(&max_duration),
            );
        }
        if type_ == RetryType::Exponential {
            order(
                "interval",
                secs(&interval),
                "maxInterval",
                secs(&max_interval),
            );
        }
        if type_ == RetryType::Random {
            order(
                "minInterval",
                secs(&min_interval),
                "maxInterval",
                secs(&max_interval),
            );
            order(
                "maxInterval",
                secs(&max_interval),
                "maxDuration",
                secs(&max_duration),
            );
        }
        Some(Retry {
            type_,
            interval: interval.map(|d| d.0),
            max_interval: max_interval.map(|d| d.0),
            min_interval: min_interval.map(|d| d.0),
            delay_factor,
            max_attempts: max_attempts.map(|n| n.clamp(0, u32::MAX as i64) as u32),
            max_duration: max_duration.map(|d| d.0),
            warning_on_retry,
            behavior,
        })
    }

    /// Checks an ISO-8601 duration (expressions are accepted as is); its length in seconds.
    pub fn duration(&mut self, s: &str, path: &str, pos: Pos) -> Option<f64> {
        if expr::has_template(s) {
            return None;
        }
        match parse_iso_duration(s) {
            Some(secs) => Some(secs),
            None => {
                self.err_help(
                    codes::BAD_VALUE,
                    path,
                    pos,
                    format!("invalid duration `{s}`"),
                    "durations are ISO-8601, e.g. `PT30S`, `PT5M`, `P1D`",
                );
                None
            }
        }
    }

    // ------------------------------------------------------------------ labels

    pub fn labels(&mut self, node: &Node, path: &str) -> Vec<Label> {
        let mut out: Vec<(Label, Pos, String)> = Vec::new();
        match &node.value {
            NodeValue::Map(entries) => {
                for e in entries {
                    let p = join_key(path, &e.key);
                    match e.value.scalar_text() {
                        Some(v) => out.push((
                            Label {
                                key: e.key.clone(),
                                value: v,
                            },
                            e.key_pos,
                            p,
                        )),
                        None => self.err(
                            codes::LABEL,
                            &p,
                            e.value.pos,
                            format!(
                                "label values must be strings, numbers or booleans, found {}",
                                e.value.kind_name()
                            ),
                        ),
                    }
                }
            }
            NodeValue::Seq(items) => {
                for (i, it) in items.iter().enumerate() {
                    let p = join_index(path, i);
                    let Some(mut o) = Obj::new(self, it, &p, "a label") else {
                        continue;
                    };
                    let key = o.string(self, "key");
                    let value = o.string(self, "value");
                    o.finish(self, "io.kestra.core.models.Label", &["key", "value"]);
                    match (key, value) {
                        (Some(key), Some(value)) => out.push((Label { key, value }, it.pos, p)),
                        _ => self.err(
                            codes::LABEL,
                            &p,
                            it.pos,
                            "a label needs a `key` and a `value`",
                        ),
                    }
                }
            }
            NodeValue::Null => {}
            _ => self.err(
                codes::LABEL,
                path,
                node.pos,
                format!(
                    "`labels` must be a map or a list of {{key, value}}, found {}",
                    node.kind_name()
                ),
            ),
        }
        for (l, pos, p) in &out {
            if l.key.is_empty() || l.value.is_empty() {
                self.err(
                    codes::LABEL,
                    p,
                    *pos,
                    "label key and value must not be empty",
                );
            }
            if l.key.starts_with("system.") && l.key != "system.readOnly" {
                self.err_help(
                    codes::SYSTEM_LABEL,
                    p,
                    *pos,
                    format!(
                        "System labels can only be set by Kestra itself, offending label: {}={}",
                        l.key, l.value
                    ),
                    "only `system.readOnly` may be written in a flow",
                );
            }
        }
        // Duplicate keys: last occurrence wins, order of first kept.
        let mut labels: Vec<Label> = Vec::new();
        for (l, _, _) in out {
            match labels.iter_mut().find(|x| x.key == l.key) {
                Some(x) => x.value = l.value,
                None => labels.push(l),
            }
        }
        labels
    }

    // ------------------------------------------------------------------ plugin defaults

    pub fn plugin_defaults(
        &mut self,
        node: &Node,
        path: &str,
    ) -> (Vec<PluginDefault>, Vec<DefaultSpec>) {
        let mut out = Vec::new();
        let mut specs = Vec::new();
        let Some(items) = node.as_seq() else {
            if !node.is_null() {
                self.err(
                    codes::WRONG_TYPE,
                    path,
                    node.pos,
                    format!("must be a list, found {}", node.kind_name()),
                );
            }
            return (out, specs);
        };
        for (i, it) in items.iter().enumerate() {
            let p = join_index(path, i);
            let Some(mut o) = Obj::new(self, it, &p, "a plugin default") else {
                continue;
            };
            let type_ = o.string(self, "type");
            let forced = o.bool(self, "forced").unwrap_or(false);
            let values = o.value("values");
            o.finish(
                self,
                "io.kestra.core.models.flows.PluginDefault",
                &["type", "forced", "values"],
            );
            let Some(type_) = type_ else {
                self.err(
                    codes::PLUGIN_DEFAULTS,
                    &p,
                    it.pos,
                    "missing required property \"type\"",
                );
                continue;
            };
            let Some(values) = values else {
                self.err(
                    codes::PLUGIN_DEFAULTS,
                    &p,
                    it.pos,
                    "missing required property \"values\"",
                );
                continue;
            };
            let Some(entries) = values.as_map() else {
                self.err(
                    codes::PLUGIN_DEFAULTS,
                    &join_key(&p, "values"),
                    values.pos,
                    "`values` must be a map",
                );
                continue;
            };
            for e in entries.iter().filter(|e| e.value.is_null()) {
                self.err(
                    codes::PLUGIN_DEFAULTS,
                    &join_key(&join_key(&p, "values"), &e.key),
                    e.key_pos,
                    "must not be null",
                );
            }
            if !type_.contains('.')
                || (self.catalog.get(&type_).is_none()
                    && !self.catalog.plugins().iter().any(|pl| {
                        pl.type_name.starts_with(&type_)
                            || pl.aliases.iter().any(|a| a.starts_with(&type_))
                    }))
            {
                self.warn(
                    codes::PLUGIN_DEFAULTS,
                    &join_key(&p, "type"),
                    it.get("type").map_or(it.pos, |n| n.pos),
                    format!("no plugin type matches `{type_}`"),
                    Some(
                        "defaults apply to plugins whose type equals or starts with this value"
                            .into(),
                    ),
                );
            }
            out.push(PluginDefault {
                type_: type_.clone(),
                forced,
                values: values.to_json().as_object().cloned().unwrap_or_default(),
            });
            specs.push(DefaultSpec {
                type_,
                forced,
                values: values.clone(),
            });
        }
        (out, specs)
    }

    pub fn apply_defaults(&mut self, root: &mut Node, specs: &[DefaultSpec]) {
        self.defaulted = defaults::apply(root, specs, self.catalog);
    }
}

/// Validates a cron expression like Kestra's Schedule trigger: 5 fields, or 6 with
/// `withSeconds`, or a nickname.
pub(crate) fn check_cron(cron: &str, with_seconds: bool) -> Result<(), String> {
    use croner::parser::{CronParser, Seconds};
    let trimmed = cron.trim();
    let pattern = match trimmed.to_ascii_lowercase().as_str() {
        // croner rejects `@midnight`; Kestra (cron-utils) accepts it as `@daily`.
        "@midnight" => "@daily".to_string(),
        "@annually" => "@yearly".to_string(),
        _ => trimmed.to_string(),
    };
    if !pattern.starts_with('@') {
        let fields = pattern.split_whitespace().count();
        match (with_seconds, fields) {
            (false, 5) | (true, 6) => {}
            (false, n) => {
                return Err(format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week), found {n}"
                ));
            }
            (true, n) => {
                return Err(format!(
                    "expected 6 fields with `withSeconds: true`, found {n}"
                ));
            }
        }
    }
    let parser = CronParser::builder()
        .seconds(if with_seconds {
            Seconds::Required
        } else {
            Seconds::Optional
        })
        .build();
    parser.parse(&pattern).map(drop).map_err(|e| e.to_string())
}

/// Parses an ISO-8601 duration (`PT5M`, `P1DT2H`, `PT0.5S`, `-PT1S`) into seconds.
pub(crate) fn parse_iso_duration(s: &str) -> Option<f64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let s = s.strip_prefix(['P', 'p'])?;
    if s.is_empty() {
        return None;
    }
    let (date, time) = match s.find(['T', 't']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut total = 0.0;
    let mut any = false;
    let mut scan = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut num = String::new();
        let mut last_unit = 0usize;
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' || c == ',' || c == '-' {
                num.push(if c == ',' { '.' } else { c });
            } else {
                let idx = units.iter().position(|(u, _)| u.eq_ignore_ascii_case(&c))?;
                if idx < last_unit || num.is_empty() {
                    return None;
                }
                last_unit = idx + 1;
                let v: f64 = num.parse().ok()?;
                total += v * units[idx].1;
                any = true;
                num.clear();
            }
        }
        num.is_empty().then_some(())
    };
    scan(
        date,
        &[
            ('Y', 365.0 * 86400.0),
            ('M', 30.0 * 86400.0),
            ('W', 7.0 * 86400.0),
            ('D', 86400.0),
        ],
    )?;
    if let Some(t) = time {
        if t.is_empty() {
            return None;
        }
        scan(t, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    any.then_some(if neg { -total } else { total })
}

/// Common props per kind, for messages and the schema.
pub(crate) fn common_props(kind: PluginKind) -> &'static [&'static str] {
    match kind {
        PluginKind::Task(_) => TASK_COMMON_PROPS,
        PluginKind::Trigger => TRIGGER_COMMON_PROPS,
        PluginKind::Condition | PluginKind::TaskRunner => CONDITION_COMMON_PROPS,
    }
}

/// Subflow/ForEachItem calling the flow itself.
pub(crate) fn is_recursive_call(task: &Task, namespace: &str, id: &str) -> bool {
    (task.canonical == SUBFLOW || task.canonical == FOR_EACH_ITEM)
        && task.params.get("namespace").and_then(Value::as_str) == Some(namespace)
        && task.params.get("flowId").and_then(Value::as_str) == Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations() {
        assert_eq!(parse_iso_duration("PT5M"), Some(300.0));
        assert_eq!(parse_iso_duration("P1DT1H"), Some(90000.0));
        assert_eq!(parse_iso_duration("PT0.5S"), Some(0.5));
        assert_eq!(parse_iso_duration("PT"), None);
        assert_eq!(parse_iso_duration("5 minutes"), None);
        assert_eq!(parse_iso_duration("PT1S1M"), None);
    }

    #[test]
    fn cron_rules() {
        assert!(check_cron("0 9 * * MON-FRI", false).is_ok());
        assert!(check_cron("@midnight", false).is_ok());
        assert!(check_cron("@hourly", false).is_ok());
        assert!(check_cron("*/5 * * * * *", false).is_err());
        assert!(check_cron("*/5 * * * * *", true).is_ok());
        assert!(check_cron("61 * * * *", false).is_err());
        assert!(check_cron("* * * *", false).is_err());
    }

    #[test]
    fn id_regexes() {
        assert!(FLOW_ID_RE.is_match("my.flow-1_x"));
        assert!(!FLOW_ID_RE.is_match("my#flow"));
        assert!(NAMESPACE_RE.is_match("io.kestra.tests"));
        assert!(!NAMESPACE_RE.is_match("MY$NAMESPACE"));
        assert!(!TASK_ID_RE.is_match("a.b"));
        assert!(INPUT_ID_RE.is_match("a.b"));
    }
}

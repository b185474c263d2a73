//! The flow document itself: top-level properties and the whole-flow rules (unique ids,
//! recursion, expressions).

use std::collections::HashMap;

use serde_json::Value;

use crate::diag::{Severity, codes};
use crate::expr;
use crate::model::*;
use crate::validate::{
    Cx, FLOW_ID_RE, FLOW_PROPS, NAMESPACE_RE, Obj, RESERVED_FLOW_IDS, is_recursive_call,
};
use crate::yaml::{Node, NodeValue, Pos, join_index, join_key};

impl<'a> Cx<'a> {
    /// Builds the flow from the document root (plugin defaults not yet applied).
    pub fn flow(&mut self, mut root: Node) -> Option<Flow> {
        if !matches!(root.value, NodeValue::Map(_)) {
            let msg = if root.is_null() {
                "the document is empty".to_string()
            } else {
                format!("a flow must be a map, found {}", root.kind_name())
            };
            self.err(codes::NOT_A_FLOW, "", root.pos, msg);
            return None;
        }
        // Plugin defaults first: they change what the task checks see.
        let mut plugin_defaults = Vec::new();
        let mut specs = Vec::new();
        for key in ["pluginDefaults", "taskDefaults"] {
            if let Some(e) = root.entry(key) {
                if key == "taskDefaults" {
                    self.warn(
                        codes::DEPRECATED,
                        key,
                        e.key_pos,
                        "`taskDefaults` is deprecated",
                        Some("rename it to `pluginDefaults`".into()),
                    );
                }
                let (d, s) = self.plugin_defaults(&e.value.clone(), key);
                plugin_defaults.extend(d);
                specs.extend(s);
            }
        }
        self.apply_defaults(&mut root, &specs);
        let root = &root;

        let mut o = Obj::new(self, root, "", "a flow")?;
        let id = self.flow_id(&mut o);
        let namespace = self.namespace(&mut o);
        let revision = o.int(self, "revision").and_then(|r| {
            if r < 1 {
                self.err(
                    codes::BAD_VALUE,
                    "revision",
                    root.locate_nearest("revision"),
                    "must be greater than or equal to 1",
                );
            }
            u32::try_from(r).ok()
        });
        let description = o.string(self, "description");
        let labels = o
            .value("labels")
            .map(|n| self.labels(n, "labels"))
            .unwrap_or_default();
        let inputs = o
            .value("inputs")
            .map(|n| self.inputs(n, "inputs"))
            .unwrap_or_default();
        let variables = match o.value("variables") {
            None => serde_json::Map::new(),
            Some(n) => match n.to_json() {
                Value::Object(m) => m,
                _ => {
                    self.err(
                        codes::WRONG_TYPE,
                        "variables",
                        n.pos,
                        format!("`variables` must be a map, found {}", n.kind_name()),
                    );
                    serde_json::Map::new()
                }
            },
        };
        let tasks_entry = o.take("tasks");
        let tasks = self.task_list(tasks_entry.map(|e| &e.value), "tasks");
        if tasks_entry
            .and_then(|e| e.value.as_seq())
            .is_none_or(<[Node]>::is_empty)
        {
            let pos = tasks_entry.map_or(Pos { line: 1, column: 1 }, |e| e.key_pos);
            self.err_help(
                codes::EMPTY,
                "tasks",
                pos,
                "must not be empty",
                "a flow needs at least one task in `tasks`",
            );
        }
        let errors = self.task_list(o.value("errors"), "errors");
        let finally = self.task_list(o.value("finally"), "finally");
        let after_execution = self.task_list(o.value("afterExecution"), "afterExecution");
        let listeners = o
            .take("listeners")
            .map(|e| self.listeners(&e.value, e.key_pos))
            .unwrap_or_default();
        let triggers = self.triggers(o.value("triggers"));
        o.take("pluginDefaults");
        o.take("taskDefaults");
        let concurrency = o.value("concurrency").and_then(|n| self.concurrency(n));
        let outputs = o
            .value("outputs")
            .map(|n| self.outputs(n, "outputs"))
            .unwrap_or_default();
        let retry = o.value("retry").and_then(|n| self.retry(n, "retry"));
        let sla = o.value("sla").map(|n| self.sla(n)).unwrap_or_default();
        let checks = o
            .value("checks")
            .map(|n| self.checks(n))
            .unwrap_or_default();
        let disabled = o.bool(self, "disabled").unwrap_or(false);
        let deleted = o.bool(self, "deleted").unwrap_or(false);
        let worker_group = o.take("workerGroup").map(|e| {
            self.err(
                codes::ENTERPRISE_ONLY,
                "workerGroup",
                e.key_pos,
                "Worker Group is an Enterprise Edition functionality\n",
            );
            e.value.to_json()
        });
        o.take("tenantId");
        o.finish(self, "io.kestra.core.models.flows.Flow", FLOW_PROPS);

        self.duplicate_task_ids();
        self.duplicate_trigger_ids(&triggers, root);
        self.expressions(root, &inputs);

        let (id, namespace) = (id?, namespace?);
        let flow = Flow {
            id,
            namespace,
            revision,
            description,
            labels,
            inputs,
            variables,
            tasks,
            errors,
            finally,
            after_execution,
            listeners,
            triggers,
            plugin_defaults,
            concurrency,
            outputs,
            retry,
            sla,
            checks,
            disabled,
            deleted,
            worker_group,
            source: self.source.to_string(),
        };
        for t in flow.all_tasks() {
            if is_recursive_call(t, &flow.namespace, &flow.id) {
                self.err_help(
                    codes::RECURSIVE_FLOW,
                    &t.path,
                    root.locate_nearest(&t.path),
                    format!(
                        "Invalid Flow: Recursive call to flow [{}.{}]",
                        flow.namespace, flow.id
                    ),
                    "a Subflow/ForEachItem cannot call the flow it belongs to",
                );
            }
        }
        Some(flow)
    }

    fn flow_id(&mut self, o: &mut Obj<'_>) -> Option<String> {
        let Some(e) = o.take("id") else {
            self.err(
                codes::MISSING,
                "",
                o.node.pos,
                "missing required property \"id\"",
            );
            return None;
        };
        let Some(id) = e.value.scalar_text() else {
            self.err(
                codes::WRONG_TYPE,
                "id",
                e.value.pos,
                format!("`id` must be a string, found {}", e.value.kind_name()),
            );
            return None;
        };
        if !FLOW_ID_RE.is_match(&id) {
            self.err_help(
                codes::BAD_ID,
                "id",
                e.value.pos,
                format!("must match \"^[a-zA-Z0-9][a-zA-Z0-9._-]*\" (invalid flow id `{id}`)"),
                "flow ids use letters, digits, `.`, `_` and `-`",
            );
        }
        if id.is_empty() || id.len() > 100 {
            self.err(
                codes::BAD_ID,
                "id",
                e.value.pos,
                "size must be between 1 and 100",
            );
        }
        if RESERVED_FLOW_IDS.contains(&id.as_str()) {
            // Kestra's own test flows use some of these ids (`pause`), which only clash with
            // API routes; the flow itself runs, so this is a warning.
            self.warn(
                codes::RESERVED_ID,
                "id",
                e.value.pos,
                format!("flow id `{id}` is reserved"),
                Some("it clashes with a Kestra API route; pick another id".into()),
            );
        }
        Some(id)
    }

    fn namespace(&mut self, o: &mut Obj<'_>) -> Option<String> {
        let Some(e) = o.take("namespace") else {
            self.err(
                codes::MISSING,
                "",
                o.node.pos,
                "missing required property \"namespace\"",
            );
            return None;
        };
        let Some(ns) = e.value.scalar_text() else {
            self.err(
                codes::WRONG_TYPE,
                "namespace",
                e.value.pos,
                format!(
                    "`namespace` must be a string, found {}",
                    e.value.kind_name()
                ),
            );
            return None;
        };
        if !NAMESPACE_RE.is_match(&ns) {
            self.err_help(
                codes::BAD_ID,
                "namespace",
                e.value.pos,
                format!("must match \"^[a-z0-9][a-z0-9._-]*\" (invalid namespace `{ns}`)"),
                "namespaces are lowercase: letters, digits, `.`, `_` and `-`",
            );
        }
        if ns.is_empty() || ns.len() > 150 {
            self.err(
                codes::BAD_ID,
                "namespace",
                e.value.pos,
                "size must be between 1 and 150",
            );
        }
        Some(ns)
    }

    fn listeners(&mut self, node: &Node, key_pos: Pos) -> Vec<Listener> {
        self.warn(
            codes::DEPRECATED,
            "listeners",
            key_pos,
            "`listeners` are deprecated",
            Some("use `afterExecution` with `runIf`".into()),
        );
        let Some(items) = node.as_seq() else {
            if !node.is_null() {
                self.err(
                    codes::WRONG_TYPE,
                    "listeners",
                    node.pos,
                    format!("`listeners` must be a list, found {}", node.kind_name()),
                );
            }
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let p = join_index("listeners", i);
            let Some(mut o) = Obj::new(self, it, &p, "a listener") else {
                continue;
            };
            let description = o.string(self, "description");
            let conditions = match o.value("conditions") {
                Some(n) => self.condition_list(n, &join_key(&p, "conditions")),
                None => Vec::new(),
            };
            let tasks_entry = o.take("tasks");
            let tasks = self.task_list(tasks_entry.map(|e| &e.value), &join_key(&p, "tasks"));
            if tasks_entry
                .and_then(|e| e.value.as_seq())
                .is_none_or(<[Node]>::is_empty)
            {
                self.err(
                    codes::EMPTY,
                    &join_key(&p, "tasks"),
                    tasks_entry.map_or(it.pos, |e| e.key_pos),
                    "must not be empty",
                );
            }
            o.finish(
                self,
                "io.kestra.core.models.listeners.Listener",
                &["description", "conditions", "tasks"],
            );
            out.push(Listener {
                description,
                conditions,
                tasks,
            });
        }
        out
    }

    fn condition_list(&mut self, n: &Node, path: &str) -> Vec<Plugin> {
        let Some(items) = n.as_seq() else {
            self.err(
                codes::WRONG_TYPE,
                path,
                n.pos,
                format!("`conditions` must be a list, found {}", n.kind_name()),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, it) in items.iter().enumerate() {
            if let Some(p) = self.plugin_public(it, &join_index(path, i)) {
                out.push(p);
            }
        }
        out
    }

    fn triggers(&mut self, node: Option<&Node>) -> Vec<Trigger> {
        let Some(node) = node else { return Vec::new() };
        let Some(items) = node.as_seq() else {
            self.err(
                codes::WRONG_TYPE,
                "triggers",
                node.pos,
                format!("`triggers` must be a list, found {}", node.kind_name()),
            );
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| self.trigger(it, &join_index("triggers", i)))
            .collect()
    }

    fn concurrency(&mut self, n: &Node) -> Option<Concurrency> {
        let mut o = Obj::new(self, n, "concurrency", "`concurrency`")?;
        let limit = o.int(self, "limit");
        let behavior = match o
            .enum_of(self, "behavior", &["QUEUE", "CANCEL", "FAIL"])
            .as_deref()
        {
            Some("CANCEL") => ConcurrencyBehavior::Cancel,
            Some("FAIL") => ConcurrencyBehavior::Fail,
            _ => ConcurrencyBehavior::Queue,
        };
        o.finish(
            self,
            "io.kestra.core.models.flows.Concurrency",
            &["limit", "behavior"],
        );
        let Some(limit) = limit else {
            self.err(
                codes::MISSING,
                "concurrency",
                n.pos,
                "missing required property \"limit\"",
            );
            return None;
        };
        if limit < 1 {
            self.err(
                codes::BAD_VALUE,
                "concurrency.limit",
                n.locate_nearest("limit"),
                "must be greater than or equal to 1",
            );
            return None;
        }
        Some(Concurrency {
            limit: u32::try_from(limit).unwrap_or(u32::MAX),
            behavior,
        })
    }

    fn sla(&mut self, n: &Node) -> Vec<Sla> {
        let Some(items) = n.as_seq() else {
            self.err(
                codes::WRONG_TYPE,
                "sla",
                n.pos,
                format!("`sla` must be a list, found {}", n.kind_name()),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let p = join_index("sla", i);
            let Some(mut o) = Obj::new(self, it, &p, "an SLA") else {
                continue;
            };
            let id = o.string(self, "id").filter(|id| !id.is_empty());
            if id.is_none() {
                self.err(
                    codes::MISSING,
                    &p,
                    it.pos,
                    "missing required property \"id\"",
                );
            }
            let t = o.enum_of(self, "type", &["MAX_DURATION", "EXECUTION_ASSERTION"]);
            let behavior = match o.enum_of(self, "behavior", &["FAIL", "CANCEL", "NONE"]) {
                Some(b) => Some(match b.as_str() {
                    "FAIL" => SlaBehavior::Fail,
                    "CANCEL" => SlaBehavior::Cancel,
                    _ => SlaBehavior::None,
                }),
                None => {
                    if it.get("behavior").is_none() {
                        self.err(
                            codes::MISSING,
                            &p,
                            it.pos,
                            "missing required property \"behavior\"",
                        );
                    }
                    None
                }
            };
            let labels = o
                .value("labels")
                .map(|n| self.labels(n, &join_key(&p, "labels")))
                .unwrap_or_default();
            let kind = match t.as_deref() {
                Some("MAX_DURATION") => {
                    let duration = match o.string(self, "duration") {
                        // A `Duration` in Kestra, not a dynamic property: no expression.
                        Some(d) if expr::has_template(&d) => {
                            self.err_help(
                                codes::BAD_VALUE,
                                &join_key(&p, "duration"),
                                it.locate_nearest("duration"),
                                format!("invalid duration `{d}`"),
                                "an SLA duration is a fixed ISO-8601 duration, e.g. `PT30M`",
                            );
                            None
                        }
                        Some(d) => self
                            .duration(&d, &join_key(&p, "duration"), it.locate_nearest("duration"))
                            .map(|_| d),
                        None => {
                            self.err(
                                codes::MISSING,
                                &p,
                                it.pos,
                                "missing required property \"duration\"",
                            );
                            None
                        }
                    };
                    o.finish(
                        self,
                        "io.kestra.core.models.flows.sla.types.MaxDurationSLA",
                        &["id", "type", "behavior", "labels", "duration"],
                    );
                    duration.map(|duration| SlaKind::MaxDuration { duration })
                }
                Some(_) => {
                    let assertion = o.string(self, "assert").filter(|a| !a.is_empty());
                    if assertion.is_none() {
                        self.err(
                            codes::MISSING,
                            &p,
                            it.pos,
                            "missing required property \"assert\"",
                        );
                    }
                    o.finish(
                        self,
                        "io.kestra.core.models.flows.sla.types.ExecutionAssertionSLA",
                        &["id", "type", "behavior", "labels", "assert"],
                    );
                    assertion.map(|assertion| SlaKind::ExecutionAssertion { assertion })
                }
                None => {
                    if it.get("type").is_none() {
                        self.err(
                            codes::MISSING_TYPE,
                            &p,
                            it.pos,
                            "missing type id property 'type' (for POJO property 'sla')",
                        );
                    }
                    None
                }
            };
            // An incomplete SLA already has its diagnostic; the flow is rejected.
            if let (Some(id), Some(kind), Some(behavior)) = (id, kind, behavior) {
                out.push(Sla {
                    id,
                    kind,
                    behavior,
                    labels,
                });
            }
        }
        out
    }

    fn checks(&mut self, n: &Node) -> Vec<Value> {
        let Some(items) = n.as_seq() else {
            self.err(
                codes::WRONG_TYPE,
                "checks",
                n.pos,
                format!("`checks` must be a list, found {}", n.kind_name()),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let p = join_index("checks", i);
            let Some(mut o) = Obj::new(self, it, &p, "a check") else {
                continue;
            };
            if o.string(self, "condition").is_none() {
                self.err(
                    codes::MISSING,
                    &p,
                    it.pos,
                    "missing required property \"condition\"",
                );
            }
            let _ = o.string(self, "message");
            let _ = o.enum_of(self, "style", &["ERROR", "SUCCESS", "WARNING", "INFO"]);
            let _ = o.enum_of(
                self,
                "behavior",
                &["BLOCK_EXECUTION", "FAIL_EXECUTION", "CREATE_EXECUTION"],
            );
            o.finish(
                self,
                "io.kestra.core.models.flows.check.Check",
                &["condition", "message", "style", "behavior"],
            );
            out.push(it.to_json());
        }
        out
    }

    /// One message naming every duplicated id (Kestra's wording), placed at the first repeat.
    fn duplicate_task_ids(&mut self) {
        let mut seen: HashMap<String, Vec<Pos>> = HashMap::new();
        let mut dups: Vec<String> = Vec::new();
        let mut first_repeat: Option<Pos> = None;
        for (id, pos) in &self.task_ids {
            let e = seen.entry(id.clone()).or_default();
            e.push(*pos);
            if e.len() == 2 {
                dups.push(id.clone());
                first_repeat.get_or_insert(*pos);
            }
        }
        let Some(pos) = first_repeat else { return };
        let mut where_ = Vec::new();
        for d in &dups {
            let mut lines: Vec<u32> = seen[d].iter().map(|p| p.line).collect();
            lines.sort_unstable();
            let lines: Vec<String> = lines.iter().map(u32::to_string).collect();
            where_.push(format!("`{d}` at lines {}", lines.join(", ")));
        }
        self.err_help(
            codes::DUPLICATE_TASK_ID,
            "",
            pos,
            format!("Duplicate task id with name [{}]", dups.join(", ")),
            format!(
                "task ids must be unique across the whole flow: {}",
                where_.join("; ")
            ),
        );
    }

    fn duplicate_trigger_ids(&mut self, triggers: &[Trigger], root: &Node) {
        let mut seen = Vec::new();
        let mut dups = Vec::new();
        let mut at = None;
        for t in triggers {
            if seen.contains(&t.id.as_str()) {
                if !dups.contains(&t.id.as_str()) {
                    dups.push(t.id.as_str());
                }
                at.get_or_insert(t.path.clone());
            } else {
                seen.push(t.id.as_str());
            }
        }
        if let Some(p) = at {
            self.err(
                codes::DUPLICATE_TRIGGER_ID,
                &p,
                root.locate_nearest(&p),
                format!("Duplicate trigger id with name [{}]", dups.join(", ")),
            );
        }
    }

    /// Every template string: syntax, and dotted access of dashed ids.
    fn expressions(&mut self, root: &Node, inputs: &[Input]) {
        let input_ids: Vec<String> = inputs
            .iter()
            .map(|i| i.id.clone())
            .filter(|i| i.contains('-'))
            .collect();
        let task_ids: Vec<String> = self
            .task_ids
            .iter()
            .map(|(i, _)| i.clone())
            .filter(|i| i.contains('-'))
            .collect();
        let mut found = Vec::new();
        // `description` is Markdown, and defaults are checked where they were applied.
        let skip = |k: &str| k == "description" || k == "pluginDefaults" || k == "taskDefaults";
        expr::strings(root, "", &skip, &mut found);
        for (node, path) in found {
            let Some(text) = node.as_str() else { continue };
            // Kestra accepts a flow whose template does not parse and fails the task when it
            // renders it (the corpus runs such a flow), so syntax errors are warnings.
            if let Err(e) = expr::check_template(text) {
                let pos = expr::map_pos(node, self.source, e.line, e.column);
                self.warn(
                    codes::EXPRESSION,
                    &path,
                    pos,
                    format!("invalid expression: {}", e.message),
                    Some("this will fail when the value is rendered".into()),
                );
            }
            // Variables are only rendered on demand (`render(vars.x)`): the text may not be
            // meant as a template there.
            let severity = if path.starts_with("variables") {
                Severity::Warning
            } else {
                Severity::Error
            };
            for (root_name, ids) in [("inputs", &input_ids), ("outputs", &task_ids)] {
                for (hit, off) in expr::dashed_access(text, root_name, ids) {
                    let (line, col) = line_col(text, off);
                    let pos = expr::map_pos(node, self.source, line, col);
                    let id = hit.split_once('.').map_or("", |x| x.1);
                    self.push(
                        severity,
                        codes::DASHED_ID_ACCESS,
                        &path,
                        pos,
                        format!("`{hit}` cannot be used: `{id}` contains a dash, which expressions read as a minus"),
                        Some(format!("use the bracket form: `{root_name}['{id}']`")),
                    );
                }
            }
        }
    }

    fn plugin_public(&mut self, node: &Node, path: &str) -> Option<Plugin> {
        self.plugin(
            node,
            path,
            crate::catalog::PluginKind::Condition,
            "conditions",
        )
    }
}

/// 1-based line and column of the character at `char_off` in `text`.
fn line_col(text: &str, char_off: usize) -> (u32, u32) {
    let mut line = 1;
    let mut col = 1;
    for c in text.chars().take(char_off) {
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line, col)
}

//! Flow `inputs` and `outputs` (spec §1.7, §2).

use std::collections::HashMap;

use serde_json::Value;

use crate::diag::{Severity, codes};
use crate::expr;
use crate::model::{FlowOutput, Input, InputDependsOn, InputType};
use crate::validate::{Cx, INPUT_ID_RE, Obj, did_you_mean, parse_iso_duration};
use crate::yaml::{Node, NodeValue, Pos, join_index, join_key};

const COMMON: &[&str] = &[
    "id",
    "name",
    "type",
    "description",
    "displayName",
    "required",
    "defaults",
    "prefill",
    "dependsOn",
];

fn class_of(t: InputType) -> String {
    let simple = match t {
        InputType::Multiselect => "MultiselectInput".to_string(),
        InputType::Datetime => "DateTimeInput".to_string(),
        InputType::Uri => "URIInput".to_string(),
        InputType::Json => "JsonInput".to_string(),
        InputType::Yaml => "YamlInput".to_string(),
        other => {
            let s = other.as_str().to_lowercase();
            let mut c = s.chars();
            let cap = c
                .next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default();
            format!("{cap}Input")
        }
    };
    format!("io.kestra.core.models.flows.input.{simple}")
}

impl<'a> Cx<'a> {
    pub fn inputs(&mut self, node: &Node, path: &str) -> Vec<Input> {
        let Some(items) = node.as_seq() else {
            if !node.is_null() {
                self.err(
                    codes::WRONG_TYPE,
                    path,
                    node.pos,
                    format!("`inputs` must be a list, found {}", node.kind_name()),
                );
            }
            return Vec::new();
        };
        let mut inputs: Vec<(Input, Pos, String)> = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let p = join_index(path, i);
            if let Some(input) = self.input(it, &p) {
                inputs.push((input, it.pos, p));
            }
        }
        // Duplicates, reported once with Kestra's wording.
        let mut seen: HashMap<&str, usize> = HashMap::new();
        let mut dups: Vec<&str> = Vec::new();
        for (idx, (inp, _, _)) in inputs.iter().enumerate() {
            if seen.insert(inp.id.as_str(), idx).is_some() && !dups.contains(&inp.id.as_str()) {
                dups.push(&inp.id);
            }
        }
        if let Some(first) = dups.first() {
            let (_, pos, p) = inputs
                .iter()
                .filter(|(x, _, _)| x.id == *first)
                .nth(1)
                .map(|(a, b, c)| (a, *b, c.clone()))
                .unwrap_or((&inputs[0].0, inputs[0].1, path.to_string()));
            self.err_help(
                codes::DUPLICATE_INPUT_ID,
                &p,
                pos,
                format!("Duplicate input with name [{}]", dups.join(", ")),
                "input ids must be unique",
            );
        }
        self.input_dependencies(&inputs);
        inputs.into_iter().map(|(i, _, _)| i).collect()
    }

    fn input_dependencies(&mut self, inputs: &[(Input, Pos, String)]) {
        let ids: Vec<&str> = inputs.iter().map(|(i, _, _)| i.id.as_str()).collect();
        for (inp, pos, p) in inputs {
            let Some(dep) = &inp.depends_on else { continue };
            for d in &dep.inputs {
                if !ids.contains(&d.as_str()) {
                    let help = did_you_mean(d, ids.iter().copied())
                        .map(|s| format!("did you mean `{s}`?"));
                    self.push(
                        Severity::Error,
                        codes::INPUT_DEPENDS_ON,
                        &join_key(p, "dependsOn"),
                        *pos,
                        format!("{}: dependsOn references an unknown input `{d}`", inp.id),
                        help,
                    );
                }
            }
        }
        // Cycles: follow dependsOn from each input; report each cycle once.
        let index: HashMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let edges: Vec<Vec<usize>> = inputs
            .iter()
            .map(|(i, _, _)| {
                i.depends_on.as_ref().map_or_else(Vec::new, |d| {
                    d.inputs
                        .iter()
                        .filter_map(|x| index.get(x.as_str()).copied())
                        .collect()
                })
            })
            .collect();
        let mut reported: Vec<Vec<usize>> = Vec::new();
        for (start, (_, pos, p)) in inputs.iter().enumerate() {
            if let Some(cycle) = find_cycle(start, &edges) {
                let mut key = cycle.clone();
                key.sort_unstable();
                if reported.contains(&key) {
                    continue;
                }
                reported.push(key);
                let names: Vec<&str> = cycle.iter().chain(cycle.first()).map(|i| ids[*i]).collect();
                self.err(
                    codes::INPUT_DEPENDS_ON,
                    &join_key(p, "dependsOn"),
                    *pos,
                    format!(
                        "Cycle detected in input dependencies: {}",
                        names.join(" -> ")
                    ),
                );
            }
        }
    }

    fn input(&mut self, node: &Node, path: &str) -> Option<Input> {
        let mut o = Obj::new(self, node, path, "an input")?;
        let id = match (o.string(self, "id"), o.take("name")) {
            (Some(id), _) => Some(id),
            (None, Some(e)) => {
                self.warn(
                    codes::DEPRECATED,
                    &o.key_path("name"),
                    e.key_pos,
                    "input `name` is deprecated",
                    Some("use `id`".into()),
                );
                e.value.scalar_text()
            }
            (None, None) => {
                self.err(
                    codes::MISSING,
                    path,
                    node.pos,
                    "missing required property \"id\"",
                );
                None
            }
        };
        let id_pos = node
            .entry("id")
            .or(node.entry("name"))
            .map_or(node.pos, |e| e.value.pos);
        if let Some(id) = &id
            && !INPUT_ID_RE.is_match(id)
        {
            self.err(
                codes::BAD_ID,
                &join_key(path, "id"),
                id_pos,
                format!("must match \"^[a-zA-Z0-9][.a-zA-Z0-9_-]*\" (invalid input id `{id}`)"),
            );
        }
        let type_ = match o.value("type") {
            None => {
                self.err(
                    codes::MISSING_TYPE,
                    path,
                    node.pos,
                    "missing type id property 'type' (for POJO property 'inputs')",
                );
                self.err(codes::MISSING_TYPE, path, node.pos, "Invalid type: null");
                None
            }
            Some(n) => {
                let s = n.scalar_text().unwrap_or_default();
                match InputType::parse(&s) {
                    Some(t) => Some(t),
                    None => {
                        let names: Vec<&str> = InputType::ALL.iter().map(|t| t.as_str()).collect();
                        let help = did_you_mean(&s, names.iter().copied())
                            .map(|x| format!("did you mean `{x}`?"))
                            .or_else(|| Some(format!("input types are {}", names.join(", "))));
                        self.push(
                            Severity::Error,
                            codes::INPUT_BAD_TYPE,
                            &join_key(path, "type"),
                            n.pos,
                            format!("Invalid type: {s}"),
                            help,
                        );
                        None
                    }
                }
            }
        };
        let description = o.string(self, "description");
        let display_name = o.string(self, "displayName");
        let required = o.bool(self, "required").unwrap_or(true);
        let defaults_node = o.value("defaults");
        let defaults = defaults_node.map(Node::to_json);
        let prefill = o.value("prefill").map(Node::to_json);
        let depends_on = o.value("dependsOn").and_then(|n| {
            let p = join_key(path, "dependsOn");
            let mut d = Obj::new(self, n, &p, "`dependsOn`")?;
            let inputs = d.strings(self, "inputs").unwrap_or_default();
            let condition = d.string(self, "condition");
            d.finish(
                self,
                "io.kestra.core.models.flows.DependsOn",
                &["inputs", "condition"],
            );
            Some(InputDependsOn { inputs, condition })
        });
        let type_ = type_?;
        let id = id?;
        if matches!(type_, InputType::Boolean | InputType::Enum) {
            let t = node.get("type").map_or(node.pos, |n| n.pos);
            let repl = if type_ == InputType::Boolean {
                "BOOL"
            } else {
                "SELECT"
            };
            self.warn(
                codes::DEPRECATED,
                &join_key(path, "type"),
                t,
                format!("input type `{}` is deprecated", type_.as_str()),
                Some(format!("use `{repl}`")),
            );
        }
        let mut input = Input {
            id,
            type_,
            description,
            display_name,
            required,
            defaults,
            prefill,
            depends_on,
            validator: None,
            min: None,
            max: None,
            after: None,
            before: None,
            values: None,
            expression: None,
            item_type: None,
            allow_custom_value: false,
            is_radio: false,
            auto_select_first: false,
            extension: None,
            extra: serde_json::Map::new(),
        };
        let known: Vec<&str> = COMMON.iter().chain(type_.extra_props()).copied().collect();
        self.input_type_props(&mut o, &mut input, defaults_node);
        o.finish(self, &class_of(type_), &known);
        Some(input)
    }

    fn input_type_props(
        &mut self,
        o: &mut Obj<'_>,
        input: &mut Input,
        defaults_node: Option<&Node>,
    ) {
        let id = input.id.clone();
        let path = o.path.clone();
        let node = o.node;
        let key_pos = |k: &str| node.entry(k).map_or(node.pos, |e| e.key_pos);
        match input.type_ {
            InputType::String | InputType::Secret => {
                input.validator = o.string(self, "validator");
                if let Some(v) = &input.validator {
                    self.check_validator(
                        v,
                        &join_key(&path, "validator"),
                        node.get("validator").map_or(node.pos, |n| n.pos),
                    );
                }
            }
            InputType::Enum | InputType::Select | InputType::Multiselect => {
                input.values = o.strings(self, "values");
                input.expression = o.string(self, "expression");
                if input.type_ == InputType::Multiselect {
                    if let Some(opts) = o.strings(self, "options") {
                        if input.values.is_some() {
                            self.err(
                                codes::INPUT_RULE,
                                &join_key(&path, "options"),
                                key_pos("options"),
                                format!("{id}: you can't define both `values` and `options`"),
                            );
                        } else {
                            self.warn(
                                codes::DEPRECATED,
                                &join_key(&path, "options"),
                                key_pos("options"),
                                "`options` is deprecated",
                                Some("use `values`".into()),
                            );
                            input.values = Some(opts);
                        }
                    }
                    input.item_type = self.item_type(o, &id);
                }
                input.allow_custom_value = o.bool(self, "allowCustomValue").unwrap_or(false);
                input.is_radio = o.bool(self, "isRadio").unwrap_or(false);
                input.auto_select_first = o.bool(self, "autoSelectFirst").unwrap_or(false);
                let empty = input.values.as_ref().is_none_or(Vec::is_empty);
                if empty && input.expression.is_none() {
                    let what = if input.type_ == InputType::Enum {
                        "`values`"
                    } else {
                        "`values` or `expression`"
                    };
                    self.err(
                        codes::INPUT_RULE,
                        &path,
                        node.pos,
                        format!("{id}: {what} must not be empty"),
                    );
                }
                if let (Some(values), Some(d), false) =
                    (&input.values, defaults_node, input.allow_custom_value)
                {
                    let given: Vec<String> = match &d.value {
                        NodeValue::Seq(items) => {
                            items.iter().filter_map(Node::scalar_text).collect()
                        }
                        _ => d.scalar_text().into_iter().collect(),
                    };
                    for g in given
                        .iter()
                        .filter(|g| !expr::has_template(g) && !values.contains(g))
                    {
                        self.err(
                            codes::INPUT_RULE,
                            &join_key(&path, "defaults"),
                            d.pos,
                            format!("{id}: default `{g}` is not one of the values {values:?}"),
                        );
                    }
                }
            }
            InputType::Int | InputType::Float => {
                let num = |cx: &mut Cx<'_>, o: &mut Obj<'_>, k: &str| -> Option<Value> {
                    let n = o.value(k)?;
                    match n.value {
                        NodeValue::Int(_) | NodeValue::Float(_)
                            if input.type_ == InputType::Float =>
                        {
                            Some(n.to_json())
                        }
                        NodeValue::Int(_) => Some(n.to_json()),
                        _ => {
                            cx.err(
                                codes::INPUT_RULE,
                                &o.key_path(k),
                                n.pos,
                                format!(
                                    "{id}: `{k}` must be {}",
                                    if input.type_ == InputType::Int {
                                        "an integer"
                                    } else {
                                        "a number"
                                    }
                                ),
                            );
                            None
                        }
                    }
                };
                input.min = num(self, o, "min");
                input.max = num(self, o, "max");
                if let (Some(a), Some(b)) = (
                    input.min.as_ref().and_then(Value::as_f64),
                    input.max.as_ref().and_then(Value::as_f64),
                ) && a > b
                {
                    self.err(
                        codes::INPUT_RULE,
                        &path,
                        key_pos("min"),
                        format!("{id}: `min` must be less than or equal to `max`"),
                    );
                }
            }
            InputType::Duration => {
                let dur = |cx: &mut Cx<'_>, o: &mut Obj<'_>, k: &str| -> Option<(String, f64)> {
                    let s = o.string(cx, k)?;
                    match parse_iso_duration(&s) {
                        Some(secs) => Some((s, secs)),
                        None => {
                            cx.err(
                                codes::INPUT_RULE,
                                &o.key_path(k),
                                key_pos(k),
                                format!("{id}: `{k}` must be an ISO-8601 duration, found `{s}`"),
                            );
                            None
                        }
                    }
                };
                let min = dur(self, o, "min");
                let max = dur(self, o, "max");
                if let (Some(a), Some(b)) = (&min, &max)
                    && a.1 > b.1
                {
                    self.err(
                        codes::INPUT_RULE,
                        &path,
                        key_pos("min"),
                        format!("{id}: `min` must be less than or equal to `max`"),
                    );
                }
                input.min = min.map(|m| Value::String(m.0));
                input.max = max.map(|m| Value::String(m.0));
            }
            InputType::Datetime | InputType::Date | InputType::Time => {
                input.after = o.string(self, "after");
                input.before = o.string(self, "before");
                // Same-format ISO values compare lexicographically.
                if let (Some(a), Some(b)) = (&input.after, &input.before)
                    && a.len() == b.len()
                    && a >= b
                {
                    self.err(
                        codes::INPUT_RULE,
                        &path,
                        key_pos("after"),
                        format!("{id}: `after` must be before `before`"),
                    );
                }
            }
            InputType::File => {
                input.extension = o.string(self, "extension");
                if let Some(n) = o.value("allowedFileExtensions") {
                    input
                        .extra
                        .insert("allowedFileExtensions".into(), n.to_json());
                }
                if let Some(d) = defaults_node {
                    let ok = d
                        .as_str()
                        .is_some_and(|s| s.starts_with("file://") || s.starts_with("nsfile://"));
                    if !ok {
                        self.err_help(
                            codes::INPUT_RULE,
                            &join_key(&path, "defaults"),
                            d.pos,
                            format!("{id}: no `defaults` can be set for inputs of type 'FILE'"),
                            "only a `file://` or `nsfile://` URI may be a FILE default",
                        );
                    }
                }
            }
            InputType::Array => {
                input.item_type = self.item_type(o, &id);
                if input.item_type.is_none() && node.get("itemType").is_none() {
                    self.err(
                        codes::INPUT_RULE,
                        &path,
                        node.pos,
                        format!("{id}: `itemType` is required for inputs of type 'ARRAY'"),
                    );
                }
            }
            InputType::Json => {
                if let Some(n) = o.value("jsonSchema") {
                    input.extra.insert("jsonSchema".into(), n.to_json());
                }
            }
            InputType::Boolean
            | InputType::Bool
            | InputType::Uri
            | InputType::Yaml
            | InputType::Email => {}
        }
        if let Some(d) = defaults_node {
            self.check_default_type(input, d, &join_key(&path, "defaults"));
        }
    }

    fn item_type(&mut self, o: &mut Obj<'_>, id: &str) -> Option<InputType> {
        let n = o.value("itemType")?;
        let s = n.scalar_text().unwrap_or_default();
        match InputType::parse(&s) {
            Some(InputType::Array) => {
                self.err(
                    codes::INPUT_RULE,
                    &o.key_path("itemType"),
                    n.pos,
                    format!("{id}: `itemType` cannot be `ARRAY`"),
                );
                None
            }
            Some(t) => Some(t),
            None => {
                self.err(
                    codes::INPUT_BAD_TYPE,
                    &o.key_path("itemType"),
                    n.pos,
                    format!("Invalid type: {s}"),
                );
                None
            }
        }
    }

    /// `defaults` must have the input's type (or be an expression, rendered at run time).
    fn check_default_type(&mut self, input: &Input, d: &Node, path: &str) {
        if d.as_str().is_some_and(expr::has_template) {
            return;
        }
        let id = &input.id;
        let bad = match input.type_ {
            InputType::Int => match &d.value {
                NodeValue::Int(i) => i32::try_from(*i).is_err(),
                NodeValue::Str(s) => s.trim().parse::<i32>().is_err(),
                _ => true,
            },
            InputType::Float => match &d.value {
                NodeValue::Int(_) | NodeValue::Float(_) => false,
                NodeValue::Str(s) => s.trim().parse::<f64>().is_err(),
                _ => true,
            },
            InputType::Duration => d.as_str().is_none_or(|s| parse_iso_duration(s).is_none()),
            InputType::Multiselect | InputType::Array => {
                !matches!(d.value, NodeValue::Seq(_) | NodeValue::Str(_))
            }
            InputType::String
            | InputType::Secret
            | InputType::Enum
            | InputType::Select
            | InputType::Uri
            | InputType::Email
            | InputType::Datetime
            | InputType::Date
            | InputType::Time => !matches!(
                d.value,
                NodeValue::Str(_) | NodeValue::Int(_) | NodeValue::Float(_) | NodeValue::Bool(_)
            ),
            InputType::Boolean | InputType::Bool => {
                !matches!(d.value, NodeValue::Bool(_) | NodeValue::Str(_))
            }
            InputType::File | InputType::Json | InputType::Yaml => false,
        };
        if bad {
            self.err(
                codes::INPUT_RULE,
                path,
                d.pos,
                format!(
                    "{id}: `defaults` must be a valid `{}` value, found {}",
                    input.type_.as_str(),
                    d.scalar_text()
                        .map_or_else(|| d.kind_name().to_string(), |s| format!("`{s}`"))
                ),
            );
        }
        if let (Some(re), Some(s)) = (&input.validator, d.as_str())
            && let Ok(r) = regex::Regex::new(&format!("^(?:{re})$"))
            && !r.is_match(s)
        {
            self.err(
                codes::INPUT_RULE,
                path,
                d.pos,
                format!("{id}: `defaults` must match the pattern `{re}`"),
            );
        }
    }

    /// A STRING/SECRET validator: a Java regex. The `regex` crate has no look-around or
    /// back-references; patterns using them cannot be checked here and only get a warning.
    fn check_validator(&mut self, pattern: &str, path: &str, pos: Pos) {
        if regex::Regex::new(pattern).is_ok() {
            return;
        }
        let java_only = [
            "(?=", "(?!", "(?<=", "(?<!", "(?>", "\\G", "\\Z", "*+", "++", "?+",
        ]
        .iter()
        .any(|t| pattern.contains(t))
            || pattern
                .as_bytes()
                .windows(2)
                .any(|w| w[0] == b'\\' && w[1].is_ascii_digit() && w[1] != b'0');
        if java_only {
            self.warn(
                codes::INPUT_VALIDATOR,
                path,
                pos,
                format!("validator `{pattern}` uses Java regex features saker cannot check"),
                Some("look-around, back-references and possessive quantifiers are not supported by saker".into()),
            );
        } else {
            self.err_help(
                codes::INPUT_VALIDATOR,
                path,
                pos,
                format!("invalid pattern ({pattern})"),
                "`validator` must be a valid regular expression (Java syntax)",
            );
        }
    }

    pub fn outputs(&mut self, node: &Node, path: &str) -> Vec<FlowOutput> {
        let Some(items) = node.as_seq() else {
            if !node.is_null() {
                self.err(
                    codes::WRONG_TYPE,
                    path,
                    node.pos,
                    format!("`outputs` must be a list, found {}", node.kind_name()),
                );
            }
            return Vec::new();
        };
        let mut out: Vec<(FlowOutput, Pos, String)> = Vec::new();
        for (i, it) in items.iter().enumerate() {
            let p = join_index(path, i);
            let Some(mut o) = Obj::new(self, it, &p, "an output") else {
                continue;
            };
            let id = o.string(self, "id");
            if let Some(id) = &id
                && !INPUT_ID_RE.is_match(id)
            {
                self.err(
                    codes::BAD_ID,
                    &join_key(&p, "id"),
                    it.get("id").map_or(it.pos, |n| n.pos),
                    format!(
                        "must match \"^[a-zA-Z0-9][.a-zA-Z0-9_-]*\" (invalid output id `{id}`)"
                    ),
                );
            }
            let type_ = match o.value("type") {
                None => {
                    self.err(
                        codes::MISSING_TYPE,
                        &p,
                        it.pos,
                        "missing required property \"type\"",
                    );
                    None
                }
                Some(n) => {
                    let s = n.scalar_text().unwrap_or_default();
                    let t = InputType::parse(&s);
                    if t.is_none() {
                        self.err(
                            codes::INPUT_BAD_TYPE,
                            &join_key(&p, "type"),
                            n.pos,
                            format!("Invalid type: {s}"),
                        );
                    }
                    t
                }
            };
            let value = o.take("value").map(|e| e.value.to_json());
            if value.is_none() {
                self.err(
                    codes::MISSING,
                    &p,
                    it.pos,
                    "missing required property \"value\"",
                );
            }
            let description = o.string(self, "description");
            let display_name = o.string(self, "displayName");
            let required = o.bool(self, "required").unwrap_or(true);
            o.finish(
                self,
                "io.kestra.core.models.flows.Output",
                &[
                    "id",
                    "type",
                    "value",
                    "description",
                    "displayName",
                    "required",
                ],
            );
            let Some(id) = id else {
                self.err(
                    codes::MISSING,
                    &p,
                    it.pos,
                    "missing required property \"id\"",
                );
                continue;
            };
            if let (Some(type_), Some(value)) = (type_, value) {
                out.push((
                    FlowOutput {
                        id,
                        type_,
                        value,
                        description,
                        display_name,
                        required,
                    },
                    it.pos,
                    p,
                ));
            }
        }
        let mut seen = Vec::new();
        let mut dups = Vec::new();
        let mut first_dup = None;
        for (o, pos, p) in &out {
            if seen.contains(&o.id.as_str()) {
                if !dups.contains(&o.id.as_str()) {
                    dups.push(o.id.as_str());
                }
                first_dup.get_or_insert((*pos, p.clone()));
            } else {
                seen.push(o.id.as_str());
            }
        }
        if let Some((pos, p)) = first_dup {
            self.err(
                codes::DUPLICATE_OUTPUT_ID,
                &p,
                pos,
                format!("Duplicate output with name [{}]", dups.join(", ")),
            );
        }
        out.into_iter().map(|(o, _, _)| o).collect()
    }
}

/// A cycle through `start` in the dependency graph, as the list of nodes from `start`.
fn find_cycle(start: usize, edges: &[Vec<usize>]) -> Option<Vec<usize>> {
    // Iterative DFS keeping the current path.
    let mut path = vec![start];
    let mut iters = vec![0usize];
    let mut on_path = vec![false; edges.len()];
    let mut done = vec![false; edges.len()];
    on_path[start] = true;
    while let Some(&node) = path.last() {
        let i = iters.last_mut()?;
        if let Some(&next) = edges[node].get(*i) {
            *i += 1;
            if next == start {
                return Some(path);
            }
            if !on_path[next] && !done[next] {
                on_path[next] = true;
                path.push(next);
                iters.push(0);
            }
        } else {
            on_path[node] = false;
            done[node] = true;
            path.pop();
            iters.pop();
        }
    }
    None
}

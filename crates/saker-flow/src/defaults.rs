//! `pluginDefaults` (legacy `taskDefaults`): applied to the raw document tree before the typed
//! model is built and plugin properties are checked, as Kestra does (spec §1.5).
//!
//! Among several matching defaults, the one listed first has priority: non-forced defaults only
//! fill properties still missing (so the first applied wins), forced ones are applied afterwards
//! in reverse order (so the first listed is applied last and wins).

use std::collections::HashSet;

use crate::catalog::Catalog;
use crate::yaml::{Entry, Node, NodeValue, join_index, join_key};

/// One default, read from the document.
#[derive(Debug, Clone)]
pub(crate) struct DefaultSpec {
    pub type_: String,
    pub forced: bool,
    /// A mapping node.
    pub values: Node,
}

/// Sections of the flow that hold plugins; inputs/outputs/retry/sla also have `type` keys but
/// are not plugins.
const PLUGIN_SECTIONS: &[&str] = &[
    "tasks",
    "errors",
    "finally",
    "afterExecution",
    "triggers",
    "listeners",
];

/// Applies `defaults` to every plugin of `root`. Returns the paths of the properties that were
/// injected or overridden by a default (`tasks[0].level`).
pub(crate) fn apply(
    root: &mut Node,
    defaults: &[DefaultSpec],
    catalog: &dyn Catalog,
) -> HashSet<String> {
    let mut injected = HashSet::new();
    if defaults.is_empty() {
        return injected;
    }
    let NodeValue::Map(entries) = &mut root.value else {
        return injected;
    };
    for e in entries.iter_mut() {
        if PLUGIN_SECTIONS.contains(&e.key.as_str()) {
            let path = join_key("", &e.key);
            walk(&mut e.value, &path, defaults, catalog, &mut injected);
        }
    }
    injected
}

fn walk(
    node: &mut Node,
    path: &str,
    defaults: &[DefaultSpec],
    catalog: &dyn Catalog,
    out: &mut HashSet<String>,
) {
    // Work list instead of recursion: the tree depth is bounded by the loader anyway, but this
    // keeps stack use flat for big documents.
    let mut work: Vec<(&mut Node, String)> = vec![(node, path.to_string())];
    while let Some((node, path)) = work.pop() {
        let plugin_type = node.get("type").and_then(Node::as_str).map(str::to_string);
        if let Some(t) = plugin_type
            && t.contains('.')
        {
            apply_to_plugin(node, &path, &t, defaults, catalog, out);
        }
        match &mut node.value {
            NodeValue::Map(entries) => {
                for e in entries.iter_mut() {
                    let p = join_key(&path, &e.key);
                    work.push((&mut e.value, p));
                }
            }
            NodeValue::Seq(items) => {
                for (i, n) in items.iter_mut().enumerate() {
                    let p = join_index(&path, i);
                    work.push((n, p));
                }
            }
            _ => {}
        }
    }
}

fn matches(default_type: &str, plugin_type: &str, catalog: &dyn Catalog) -> bool {
    if plugin_type == default_type || plugin_type.starts_with(default_type) {
        return true;
    }
    // Aliases: a default on an old name applies to the new class and vice versa.
    match (catalog.get(default_type), catalog.get(plugin_type)) {
        (Some(d), Some(p)) => d.type_name == p.type_name,
        (None, Some(p)) => p.type_name.starts_with(default_type),
        _ => false,
    }
}

fn apply_to_plugin(
    node: &mut Node,
    path: &str,
    plugin_type: &str,
    defaults: &[DefaultSpec],
    catalog: &dyn Catalog,
    out: &mut HashSet<String>,
) {
    for d in defaults
        .iter()
        .filter(|d| !d.forced && matches(&d.type_, plugin_type, catalog))
    {
        merge_into(node, &d.values, false, path, out);
    }
    for d in defaults
        .iter()
        .rev()
        .filter(|d| d.forced && matches(&d.type_, plugin_type, catalog))
    {
        merge_into(node, &d.values, true, path, out);
    }
}

/// Deep-merges `values` into the plugin map `node`: maps merge recursively, anything else is
/// replaced when `force`, kept otherwise.
fn merge_into(node: &mut Node, values: &Node, force: bool, path: &str, out: &mut HashSet<String>) {
    let (NodeValue::Map(target), NodeValue::Map(src)) = (&mut node.value, &values.value) else {
        return;
    };
    for s in src {
        // The discriminator is never defaulted.
        if s.key == "type" {
            continue;
        }
        match target.iter_mut().find(|t| t.key == s.key) {
            None => {
                out.insert(join_key(path, &s.key));
                target.push(Entry {
                    key: s.key.clone(),
                    key_pos: s.key_pos,
                    value: s.value.clone(),
                });
            }
            Some(t) => {
                if matches!(t.value.value, NodeValue::Map(_))
                    && matches!(s.value.value, NodeValue::Map(_))
                {
                    let p = join_key(path, &s.key);
                    merge_into(&mut t.value, &s.value, force, &p, &mut HashSet::new());
                } else if force {
                    out.insert(join_key(path, &s.key));
                    t.value = s.value.clone();
                }
            }
        }
    }
}

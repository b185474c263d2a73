//! `io.kestra.plugin.core.storage.FilterItems`: keeps or drops items of an ION file depending on a condition.

use saker_task::prelude::*;

/// Properties of `FilterItems`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// URI of the ION file.
    pub from: Property<String>,
    /// Expression evaluated per item (item fields are the context).
    pub filter_condition: Property<String>,
    /// Keep (`INCLUDE`, default) or drop (`EXCLUDE`) matching items.
    pub filter_type: Option<Property<FilterType>>,
    /// What to do when the condition fails or is null (default `FAIL`).
    pub error_or_null_behavior: Option<Property<ErrorOrNullBehavior>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.core.storage.FilterItems",
    aliases: [
        "io.kestra.core.tasks.storages.FilterItems",
    ],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Filter the items of an ION file.",
    slots: [],
    params: Params,
}

/// Whether matching items are kept or dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum FilterType {
    /// Keep matching items.
    Include,
    /// Drop matching items.
    Exclude,
}

/// What happens to an item whose condition fails or renders null.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum ErrorOrNullBehavior {
    /// Fail the task.
    Fail,
    /// Keep the item.
    Include,
    /// Drop the item.
    Exclude,
}

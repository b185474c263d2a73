//! `io.kestra.plugin.scripts.runner.docker.Docker`: runs script tasks in Docker containers (the default task runner).

use crate::shared::PullPolicy;
use saker_task::prelude::*;

/// Properties of `Docker`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Docker API URI (default: local socket).
    pub host: Option<Property<String>>,
    /// Docker config file content (`config.json`), as a string or a map.
    pub config: Option<Property<Value>>,
    /// Registry credentials (`registry`, `username`, `password`, `auth`...).
    pub credentials: Option<Property<Map<String, Value>>>,
    /// User in the container.
    pub user: Option<Property<String>>,
    /// Entry point override (default `[""]`).
    pub entry_point: Option<Property<Vec<String>>>,
    /// Extra `/etc/hosts` entries.
    pub extra_hosts: Option<Property<Vec<String>>>,
    /// Docker network mode.
    pub network_mode: Option<Property<String>>,
    /// Port bindings.
    pub port_bindings: Option<Property<Vec<String>>>,
    /// Volume binds `host:container`.
    pub volumes: Option<Property<Vec<String>>>,
    /// Image pull policy (default `IF_NOT_PRESENT`).
    pub pull_policy: Option<Property<PullPolicy>>,
    /// Device requests (GPUs).
    pub device_requests: Option<Property<Vec<Value>>>,
    /// CPU limits (`cpus`).
    pub cpu: Option<Property<Map<String, Value>>>,
    /// Memory limits (`memory`, `memorySwap`...).
    pub memory: Option<Property<Map<String, Value>>>,
    /// Size of `/dev/shm`.
    pub shm_size: Option<Property<String>>,
    /// Run privileged.
    pub privileged: Option<Property<bool>>,
    /// How the working directory is shared (default `VOLUME`).
    pub file_handling_strategy: Option<Property<FileHandlingStrategy>>,
    /// Delete the container after the run (default true).
    pub delete: Option<Property<bool>>,
    /// Wait for the container to end (default true).
    pub wait: Option<Property<bool>>,
    /// Reattach to a container left by a previous attempt (default true).
    pub resume: Option<Property<bool>>,
    /// Grace period before killing the container (default `PT0S`).
    pub kill_grace_period: Option<Property<IsoDuration>>,
    /// Plugin version pinning.
    pub version: Option<Property<String>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.scripts.runner.docker.Docker",
    aliases: [],
    kind: PluginKind::TaskRunner,
    title: "Run scripts in Docker containers.",
    slots: [],
    params: Params,
}

/// How the Docker runner shares the working directory with the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum FileHandlingStrategy {
    /// A Docker volume (default).
    Volume,
    /// A bind mount.
    Mount,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn docker_props() {
        let ty = "io.kestra.plugin.scripts.runner.docker.Docker";
        assert_valid(
            ty,
            json!({"pullPolicy": "ALWAYS", "memory": {"memory": "1GB"}, "cpu": {"cpus": 1}}),
        );
        assert_invalid(
            ty,
            json!({"pullPolicy": "SOMETIMES"}),
            "pullPolicy",
            "unknown variant",
        );
    }
}

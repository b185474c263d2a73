//! `io.kestra.plugin.fs.ssh.Command`: runs commands on a remote host over SSH.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::plugin_params;
use saker_task::prelude::*;

plugin_params! {
    /// Properties of `Command`.
    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    pub struct Params {
        common: ssh_connection;
        /// Commands run on the remote host.
        pub commands: Property<Vec<String>>,
        /// Environment variables of the remote commands.
        pub env: Option<Property<Map<String, Value>>>,
        /// Deprecated: end in WARNING when stderr is written.
        pub warning_on_std_err: Option<Property<bool>>,
    }
}

register_plugin! {
    type_name: "io.kestra.plugin.fs.ssh.Command",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Run commands over SSH.",
    slots: [],
    params: Params,
}

#[cfg(test)]
mod tests {
    use crate::test_support::{assert_invalid, assert_valid};
    use serde_json::json;

    #[test]
    fn command_props() {
        let ty = "io.kestra.plugin.fs.ssh.Command";
        assert_valid(
            ty,
            json!({"host": "localhost", "port": "22", "authMethod": "PUBLIC_KEY", "privateKey": "k", "commands": ["ls"]}),
        );
        assert_valid(
            ty,
            json!({"host": "h", "authMethod": "OPEN_SSH", "openSSHConfigDir": "~/.ssh/config", "commands": ["ls"]}),
        );
        assert_invalid(
            ty,
            json!({"host": "h", "commands": ["ls"], "authMethod": "KEY"}),
            "authMethod",
            "unknown variant",
        );
    }
}

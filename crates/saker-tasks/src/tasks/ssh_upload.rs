//! `io.kestra.plugin.fs.ssh.Upload`: uploads an internal-storage file to a remote host.
//!
//! Only parsing and validation of the properties is implemented so far; running it comes
//! with the plugin's own issue.

use crate::shared::SshAuthMethod;
use saker_task::prelude::*;

/// Properties of `Upload`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Params {
    /// Remote host.
    pub host: Property<String>,
    /// SSH port (default `22`).
    pub port: Option<Property<String>>,
    /// Remote user.
    pub username: Option<Property<String>>,
    /// Password (`PASSWORD` auth).
    pub password: Option<Property<String>>,
    /// Authentication method (default `PASSWORD`).
    pub auth_method: Option<Property<SshAuthMethod>>,
    /// OpenSSH private key (`PUBLIC_KEY` auth).
    pub private_key: Option<Property<String>>,
    /// Passphrase of the private key.
    pub private_key_passphrase: Option<Property<String>>,
    /// OpenSSH config path (`OPEN_SSH` auth).
    #[serde(rename = "openSSHConfigPath", alias = "openSSHConfigDir")]
    pub open_ssh_config_path: Option<Property<String>>,
    /// Allow reading the local OpenSSH configuration.
    #[serde(rename = "useOpenSSHConfig")]
    pub use_open_ssh_config: Option<Property<bool>>,
    /// Host key checking (default `no`).
    pub strict_host_key_checking: Option<Property<String>>,
    /// Enable the RSA/SHA1 algorithm (default false).
    pub enable_ssh_rsa1: Option<Property<bool>>,
    /// Proxy command used to reach the host.
    pub proxy_command: Option<Property<String>>,
    /// URI of the file to upload.
    pub from: Property<String>,
    /// Remote destination path.
    pub to: Property<String>,
    /// Overwrite an existing remote file (default false).
    pub overwrite: Option<Property<bool>>,
}

register_plugin! {
    type_name: "io.kestra.plugin.fs.ssh.Upload",
    aliases: [],
    kind: PluginKind::Task(TaskKind::Runnable),
    title: "Upload a file over SSH (SFTP).",
    slots: [],
    params: Params,
}

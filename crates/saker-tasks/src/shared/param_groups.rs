//! Groups of properties that several plugin types share, for `common: <group>;` in
//! [`plugin_params!`](super::plugin_params). Each group mirrors a Kestra interface or base class
//! and is spelled out once here; a group may pull in other groups.

use super::params::param_group;

param_group! {
    /// Connection properties of the PostgreSQL plugins (Kestra's `PostgresConnectionInterface`).
    postgres_connection {
        /// JDBC URL (`jdbc:postgresql://host:5432/db`).
        pub url: Property<String>,
        /// Database user.
        pub username: Option<Property<String>>,
        /// Database password.
        pub password: Option<Property<String>>,
        /// Use TLS (default false).
        pub ssl: Option<Property<bool>>,
        /// TLS mode: `DISABLE`, `ALLOW`, `PREFER`, `REQUIRE`, `VERIFY_CA`, `VERIFY_FULL`.
        pub ssl_mode: Option<Property<String>>,
        /// CA certificate (PEM).
        pub ssl_root_cert: Option<Property<String>>,
        /// Client certificate (PEM).
        pub ssl_cert: Option<Property<String>>,
        /// Client key (PEM).
        pub ssl_key: Option<Property<String>>,
        /// Password of the client key.
        pub ssl_key_password: Option<Property<String>>,
        /// Time zone used for dates without zone.
        pub time_zone_id: Option<Property<String>>,
    }
}

param_group! {
    /// How JDBC query tasks and triggers return rows, and their statement options.
    jdbc_fetch {
        /// What to do with the result rows (default `NONE`).
        pub fetch_type: Option<Property<crate::shared::FetchType>>,
        /// Deprecated: `fetchType: FETCH`.
        pub fetch: Option<Property<bool>>,
        /// Deprecated: `fetchType: FETCH_ONE`.
        pub fetch_one: Option<Property<bool>>,
        /// Deprecated: `fetchType: STORE`.
        pub store: Option<Property<bool>>,
        /// JDBC fetch size hint (default 10000).
        pub fetch_size: Option<Property<u32>>,
        /// Named parameters bound in the SQL.
        pub parameters: Option<Property<Map<String, Value>>>,
        /// SQL run in the same transaction after the query.
        #[serde(rename = "afterSQL")]
        pub after_sql: Option<Property<String>>,
    }
}

param_group! {
    /// Options of PostgreSQL `COPY` (both directions).
    postgres_copy {
        /// Table to copy.
        pub table: Option<Property<String>>,
        /// Columns to copy (default all).
        pub columns: Option<Property<Vec<String>>>,
        /// File format (default `TEXT`).
        pub format: Option<Property<crate::shared::CopyFormat>>,
        /// Copy OIDs.
        pub oids: Option<Property<bool>>,
        /// Column delimiter (default tab in TEXT, comma in CSV).
        pub delimiter: Option<Property<String>>,
        /// String representing NULL.
        pub null_string: Option<Property<String>>,
        /// The file has a header line (CSV).
        pub header: Option<Property<bool>>,
        /// Quote character (CSV).
        pub quote: Option<Property<String>>,
        /// Escape character (CSV).
        pub escape: Option<Property<String>>,
        /// Columns always quoted (CSV out).
        pub force_quote: Option<Property<Vec<String>>>,
        /// Columns never matched against the null string (CSV in).
        pub force_not_null: Option<Property<Vec<String>>>,
        /// Columns matched against the null string even when quoted (CSV in).
        pub force_null: Option<Property<Vec<String>>>,
        /// File encoding.
        pub encoding: Option<Property<String>>,
    }
}

param_group! {
    /// The files and environment of a task's working directory (scripts, dbt).
    working_directory_files {
        /// Environment variables (rendered).
        pub env: Option<Property<Map<String, Value>>>,
        /// Namespace files copied into the working directory.
        pub namespace_files: Option<crate::shared::NamespaceFiles>,
        /// Files written into the working directory.
        pub input_files: Option<crate::shared::InputFiles>,
        /// Glob patterns of files uploaded after the run.
        pub output_files: Option<Property<Vec<String>>>,
    }
}

param_group! {
    /// Properties of the `io.kestra.plugin.scripts.*` tasks after their `commands` or `script`
    /// (Kestra's `AbstractExecScript`).
    script_exec {
        /// Image used by container task runners.
        pub container_image: Option<Property<String>>,
        /// Commands run before the main ones.
        pub before_commands: Option<Property<Vec<String>>>,
        /// Interpreter and its arguments (default `["/bin/sh", "-c"]`).
        pub interpreter: Option<Property<Vec<String>>>,
        /// Stop at the first failing command (`set -e`, default true).
        pub fail_fast: Option<Property<bool>>,
        common: working_directory_files;
        /// Target operating system (default `AUTO`).
        #[serde(rename = "targetOS")]
        pub target_os: Option<Property<crate::shared::TargetOs>>,
        /// Deprecated and ignored.
        pub warning_on_std_err: Option<Property<bool>>,
        /// Deprecated: enables `{{ outputDir }}`.
        pub output_directory: Option<Property<bool>>,
        /// Deprecated: `PROCESS` or `DOCKER` (use `taskRunner`).
        pub runner: Option<Property<crate::shared::LegacyRunner>>,
        /// Deprecated: Docker options for `runner: DOCKER`.
        pub docker: Option<Property<Map<String, Value>>>,
    }
}

param_group! {
    /// Selection and behaviour flags of the dbt commands (`Build`, `Run`, `Test`...).
    dbt_command_flags {
        /// Path of the dbt binary (default `./bin/dbt`).
        pub dbt_path: Option<Property<String>>,
        /// Debug logging.
        pub debug: Option<Property<bool>>,
        /// Stop at the first failure.
        pub fail_fast: Option<Property<bool>>,
        /// Treat warnings as errors.
        pub warn_error: Option<Property<bool>>,
        /// Rebuild incremental models from scratch.
        pub full_refresh: Option<Property<bool>>,
        /// Number of threads.
        pub thread: Option<Property<u32>>,
        /// Profile target.
        pub target: Option<Property<String>>,
        /// Nodes to include.
        pub select: Option<Property<Vec<String>>>,
        /// Named selector.
        pub selector: Option<Property<String>>,
        /// Nodes to exclude.
        pub exclude: Option<Property<Vec<String>>>,
    }
}

param_group! {
    /// The image and set-up commands of dbt tasks.
    dbt_image {
        /// Image used by container task runners (default `ghcr.io/kestra-io/dbt`).
        pub container_image: Option<Property<String>>,
        /// Commands run before the main ones.
        pub before_commands: Option<Property<Vec<String>>>,
    }
}

param_group! {
    /// The working directory, legacy runner and project properties of dbt tasks.
    dbt_exec {
        common: working_directory_files;
        /// Deprecated and ignored.
        pub warning_on_std_err: Option<Property<bool>>,
        /// Deprecated: `PROCESS` or `DOCKER` (use `taskRunner`).
        pub runner: Option<Property<crate::shared::LegacyRunner>>,
        /// Deprecated: Docker options for `runner: DOCKER`.
        pub docker: Option<Property<Map<String, Value>>>,
        /// Deprecated: Docker options (use `taskRunner`).
        pub docker_options: Option<Property<Map<String, Value>>>,
        /// Content of `profiles.yml`.
        pub profiles: Option<Property<String>>,
        /// Directory of `dbt_project.yml` in the working directory.
        pub project_dir: Option<Property<String>>,
        /// Parse `run_results.json` into outputs and metrics (default true).
        pub parse_run_results: Option<Property<bool>>,
    }
}

param_group! {
    /// Every property of the single-command dbt tasks (`Build`, `Run`, `Test`).
    dbt_command {
        common: dbt_command_flags;
        common: dbt_image;
        common: dbt_exec;
    }
}

param_group! {
    /// Properties of the legacy `io.kestra.core.tasks.scripts.*` tasks after their own ones.
    legacy_script {
        /// Interpreter (default `/bin/sh`), run as `interpreter -c "<script>"`.
        pub interpreter: Option<Property<String>>,
        /// Interpreter arguments (default `["-c"]`).
        pub interpreter_args: Option<Property<Vec<String>>>,
        /// Stop at the first failing command (default true).
        pub exit_on_failed: Option<Property<bool>>,
        /// Where the script runs (default `PROCESS`).
        pub runner: Option<Property<crate::shared::LegacyRunner>>,
        /// Docker options for `runner: DOCKER`.
        pub docker_options: Option<Property<Map<String, Value>>>,
        /// Files written into the working directory.
        pub input_files: Option<crate::shared::InputFiles>,
        /// Names of output files exposed as `{{ outputFiles.<name> }}`.
        pub output_files: Option<Property<Vec<String>>>,
        /// Deprecated: names of output directories.
        pub output_dirs: Option<Property<Vec<String>>>,
        /// Deprecated alias of `outputFiles`.
        pub outputs_files: Option<Property<Vec<String>>>,
        /// Deprecated alias of `outputFiles`.
        pub files: Option<Property<Vec<String>>>,
        /// Environment variables.
        pub env: Option<Property<Map<String, Value>>>,
        /// Deprecated and ignored.
        pub warning_on_std_err: Option<Property<bool>>,
    }
}

param_group! {
    /// Connection and authentication properties of the SSH tasks.
    ssh_connection {
        /// Remote host.
        pub host: Property<String>,
        /// SSH port (default `22`).
        pub port: Option<Property<String>>,
        /// Remote user.
        pub username: Option<Property<String>>,
        /// Password (`PASSWORD` auth).
        pub password: Option<Property<String>>,
        /// Authentication method (default `PASSWORD`).
        pub auth_method: Option<Property<crate::shared::SshAuthMethod>>,
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
    }
}

param_group! {
    /// The request of the HTTP tasks and trigger.
    http_request {
        /// URL to call.
        pub uri: Property<String>,
        /// HTTP method (default `GET`).
        pub method: Option<Property<String>>,
        /// Request body.
        pub body: Option<Property<String>>,
        /// Form fields (multipart or urlencoded).
        pub form_data: Option<Property<Map<String, Value>>>,
        /// Content type of the body (default `application/json`).
        pub content_type: Option<Property<String>>,
        /// Request headers.
        pub headers: Option<Property<Map<String, Value>>>,
        /// HTTP client configuration (timeouts, auth, proxy, `allowFailed`...); checked when the task runs.
        pub options: Option<Property<Map<String, Value>>>,
        /// Deprecated: do not fail on status >= 400 (use `options.allowFailed`).
        pub allow_failed: Option<Property<bool>>,
        /// Deprecated: TLS options (use `options.ssl`).
        pub ssl_options: Option<Property<Map<String, Value>>>,
    }
}

param_group! {
    /// Authentication and connection options of the Git tasks (after `url`, whose requiredness
    /// differs).
    git_connection {
        /// User name (HTTP).
        pub username: Option<Property<String>>,
        /// Password or personal access token (HTTP).
        pub password: Option<Property<String>>,
        /// PEM private key (SSH).
        pub private_key: Option<Property<String>>,
        /// Passphrase of the private key.
        pub passphrase: Option<Property<String>>,
        /// Git configuration entries.
        pub git_config: Option<Property<Map<String, Value>>>,
        /// Clone submodules.
        pub clone_submodules: Option<Property<bool>>,
        /// Connection timeout in milliseconds (default 10000).
        pub connect_timeout: Option<Property<u32>>,
        /// Ignore proxy settings.
        pub no_proxy: Option<Property<bool>>,
    }
}

param_group! {
    /// Which legacy state a `state.*` task addresses (see `StateRef::resolve`).
    state_ref {
        /// State name (default `default`).
        pub name: Option<Property<String>>,
        /// Share the state with the whole namespace instead of the flow (default false).
        pub namespace: Option<Property<bool>>,
        /// Isolate the state per `taskrun.value` (default true).
        pub taskrun_value: Option<Property<bool>>,
    }
}

param_group! {
    /// The key a KV task reads or deletes.
    kv_key {
        /// The key.
        pub key: Property<String>,
        /// Namespace of the KV store (default: the flow namespace).
        pub namespace: Option<Property<String>>,
        /// Fail when the key is missing (default false).
        pub error_on_missing: Option<Property<bool>>,
    }
}

//! The configuration of `saker server standalone --config FILE`: a YAML file (Kestra's layout
//! without the `kestra.` prefix, see docs/configuration.md) plus environment overrides.
//!
//! - Every key is kebab-case; unknown keys and bad values are errors naming the file, the line
//!   and column, and the key path (`server.port`).
//! - Override rule: `SAKER_` + the key path upper-cased with `.` and `-` turned into `_`
//!   (`server.max-body-size` → `SAKER_SERVER_MAX_BODY_SIZE`). The older variables of
//!   `server local` stay accepted as aliases ([`LEAVES`]); the canonical name wins over an alias.
//! - [`Settings`] is what the server needs, whichever way it was configured: `server local`
//!   builds one from its flags, `server standalone` from the file; one function serves both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use saker_server::retention::{RetentionConfig, RetentionRule};
use saker_storage::S3Config;
use saker_storage::StorageConfig;
use serde::Deserialize;
use serde_json::{Map, Value};

/// What a server runs with, resolved from flags or from a configuration file.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub host: String,
    pub port: u16,
    pub data_dir: PathBuf,
    pub max_body_bytes: usize,
    pub termination_grace_period: Duration,
    pub auth: Option<AuthSettings>,
    /// `None`: SQLite in `<data_dir>/saker.db`.
    pub database_url: Option<String>,
    /// The worker job queue (`server local` flags; none for `standalone`).
    pub queue: crate::queue_cmd::QueueArgs,
    /// `None`: local files in `<data_dir>/storage`.
    pub storage: Option<StorageConfig>,
    /// `None`: SAKER_ENCRYPTION_KEY, else a key kept in the data directory.
    pub encryption_key: Option<String>,
    /// Plain-text secrets (added to the SECRET_/SAKER_SECRET_ environment ones).
    pub secrets: BTreeMap<String, String>,
    pub globals: Map<String, Value>,
    pub templates_enabled: bool,
    pub max_output_size: usize,
    /// The retention job (`retention.*`); nothing is deleted by default.
    pub retention: RetentionConfig,
    /// `server.search-time-range`: the default date range of the search endpoints.
    pub search_time_range: Option<Duration>,
    /// `scheduler.flow-poll`: how often the scheduler component compares the stored flows with
    /// the ones it loaded (it hears of each change at once; this catches the notes missed).
    pub flow_poll: Duration,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthSettings {
    pub realm: String,
    /// `(username, password)`: an argon2 PHC hash, or a plain password hashed at start.
    pub users: Vec<(String, String)>,
}

/// Defaults shared by `server local` and `server standalone`.
pub(crate) const DEFAULT_PORT: u16 = 8080;
pub(crate) const DEFAULT_HOST: &str = "127.0.0.1";
pub(crate) const DEFAULT_DATA_DIR: &str = "data";
pub(crate) const DEFAULT_REALM: &str = "Saker";
/// Default `max-output-size` (task outputs bigger than this go to internal storage).
pub(crate) const DEFAULT_MAX_OUTPUT_SIZE: usize = 1024 * 1024;
/// Default `scheduler.flow-poll`.
pub(crate) const DEFAULT_FLOW_POLL: Duration = Duration::from_secs(60);

/// The value kind of a leaf key, for environment overrides.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Text,
    Integer,
    Bool,
}

/// Every scalar key an environment variable may override: path, kind, older aliases.
const LEAVES: &[(&str, Kind, &[&str])] = &[
    ("data-dir", Kind::Text, &[]),
    ("server.host", Kind::Text, &["SAKER_HOST"]),
    ("server.port", Kind::Integer, &["SAKER_PORT"]),
    ("server.max-body-size", Kind::Text, &["SAKER_MAX_BODY_SIZE"]),
    ("server.termination-grace-period", Kind::Text, &[]),
    ("server.search-time-range", Kind::Text, &[]),
    ("server.basic-auth.enabled", Kind::Bool, &[]),
    ("server.basic-auth.realm", Kind::Text, &[]),
    ("server.basic-auth.username", Kind::Text, &[]),
    ("server.basic-auth.password", Kind::Text, &[]),
    ("database.url", Kind::Text, &[]),
    ("storage.type", Kind::Text, &[]),
    ("storage.local.base-path", Kind::Text, &[]),
    ("storage.s3.bucket", Kind::Text, &[]),
    ("storage.s3.region", Kind::Text, &[]),
    ("storage.s3.endpoint", Kind::Text, &[]),
    ("storage.s3.access-key", Kind::Text, &[]),
    ("storage.s3.secret-key", Kind::Text, &[]),
    ("storage.s3.session-token", Kind::Text, &[]),
    ("storage.s3.path-style", Kind::Bool, &[]),
    ("storage.s3.prefix", Kind::Text, &[]),
    (
        "encryption.secret-key",
        Kind::Text,
        &["SAKER_ENCRYPTION_KEY"],
    ),
    ("templates.enabled", Kind::Bool, &[]),
    ("max-output-size", Kind::Text, &[]),
    ("retention.executions", Kind::Text, &[]),
    ("retention.logs", Kind::Text, &[]),
    ("retention.interval", Kind::Text, &[]),
    ("retention.batch-size", Kind::Integer, &[]),
    ("scheduler.flow-poll", Kind::Text, &[]),
];

/// The environment variable overriding `path`.
pub(crate) fn env_name(path: &str) -> String {
    let mut name = String::from("SAKER_");
    for c in path.chars() {
        name.push(match c {
            '.' | '-' => '_',
            c => c.to_ascii_uppercase(),
        });
    }
    name
}

// ---- the file's model ----------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    server: ServerSection,
    database: DatabaseSection,
    storage: Option<StorageSection>,
    encryption: EncryptionSection,
    secrets: BTreeMap<String, String>,
    variables: VariablesSection,
    templates: TemplatesSection,
    max_output_size: Option<Size>,
    retention: RetentionSection,
    scheduler: SchedulerSection,
}

/// `scheduler`: the scheduler component.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
struct SchedulerSection {
    flow_poll: Option<Period>,
}

/// `retention`: ages after which the server deletes ended executions and log lines.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
struct RetentionSection {
    executions: Option<Period>,
    logs: Option<Period>,
    interval: Option<Period>,
    batch_size: Option<u32>,
    /// Ages of namespaces and flows, overriding the global ones.
    rules: Vec<RetentionRuleEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RetentionRuleEntry {
    namespace: String,
    #[serde(default)]
    flow_id: Option<String>,
    #[serde(default)]
    executions: Option<Period>,
    #[serde(default)]
    logs: Option<Period>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
struct ServerSection {
    host: Option<String>,
    port: Option<u16>,
    max_body_size: Option<Size>,
    termination_grace_period: Option<Period>,
    /// `P0D`: no default range.
    search_time_range: Option<Period>,
    basic_auth: Option<BasicAuthSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
struct BasicAuthSection {
    /// Default true: writing the section enables it.
    enabled: Option<bool>,
    realm: Option<String>,
    /// Kestra's single user.
    username: Option<String>,
    password: Option<String>,
    users: Vec<UserEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct UserEntry {
    username: String,
    password: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
struct DatabaseSection {
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum StorageType {
    Local,
    S3,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct StorageSection {
    #[serde(rename = "type")]
    kind: StorageType,
    #[serde(default)]
    local: Option<LocalSection>,
    #[serde(default)]
    s3: Option<S3Section>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct LocalSection {
    base_path: PathBuf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct S3Section {
    bucket: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    access_key: Option<String>,
    #[serde(default)]
    secret_key: Option<String>,
    #[serde(default)]
    session_token: Option<String>,
    #[serde(default)]
    path_style: Option<bool>,
    #[serde(default)]
    prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
struct EncryptionSection {
    secret_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
struct VariablesSection {
    globals: Map<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
struct TemplatesSection {
    enabled: bool,
}

/// Bytes: a number, or text with a KB/MB/GB suffix (`10MB`).
#[derive(Debug, Clone, Copy)]
struct Size(usize);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom("expected a size: bytes, or a number with KB, MB or GB")
        })? {
            Raw::Number(n) => usize::try_from(n)
                .map(Size)
                .map_err(|_| serde::de::Error::custom("size too large")),
            Raw::Text(text) => saker_runtime::parse_size(&text)
                .map(Size)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// A duration: ISO-8601 (`PT5M`, as Kestra), or a number with s, m or h (`30s`, `5m`).
#[derive(Debug, Clone, Copy)]
struct Period(Duration);

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom("expected a duration such as PT5M, 30s, 5m or 1h")
        })?;
        parse_period(&text)
            .map(Period)
            .map_err(serde::de::Error::custom)
    }
}

fn parse_period(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("invalid duration `{text}`: expected PT5M, 30s, 5m or 1h");
    if text.starts_with('P') || text.starts_with('p') {
        let delta = saker_core::duration::parse_duration(text).map_err(|_| bad())?;
        return delta.to_std().map_err(|_| bad());
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let factor = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(n.checked_mul(factor).ok_or_else(bad)?))
}

// ---- loading --------------------------------------------------------------------------------

/// Reads and checks `path`, applies the environment `vars`, returns the settings and the
/// warnings to print. Errors are ready to print (file, line, key path).
pub(crate) fn load(
    path: &Path,
    vars: &BTreeMap<String, String>,
) -> Result<(Settings, Vec<String>), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the configuration {}: {e}", path.display()))?;
    parse(&path.display().to_string(), &text, vars)
}

/// [`load`] over text (`file` names it in messages).
pub(crate) fn parse(
    file: &str,
    text: &str,
    vars: &BTreeMap<String, String>,
) -> Result<(Settings, Vec<String>), String> {
    let mut tree = parse_tree(file, text)?;
    let overridden = apply_env(&mut tree, vars)?;
    let config: FileConfig = match serde_path_to_error::deserialize(Value::Object(tree)) {
        Ok(config) => config,
        Err(error) => {
            let key = error.path().to_string();
            let message = hint(&error.inner().to_string());
            if let Some(var) = overridden.get(&key) {
                return Err(format!("{var} (overriding {key}): {message}"));
            }
            return Err(match locate(text) {
                Some((line, column)) => format!("{file}:{line}:{column}: {key}: {message}"),
                None => format!("{file}: {key}: {message}"),
            });
        }
    };
    resolve(file, config).map_err(|(path, message)| match key_line(text, path) {
        Some(line) => format!("{file}:{line}: {path}: {message}"),
        None => format!("{file}: {path}: {message}"),
    })
}

/// The line of a block-style key path (`server.basic-auth`) in the file, for messages about
/// keys that parsed but do not make sense together.
fn key_line(text: &str, path: &str) -> Option<usize> {
    let mut stack: Vec<(usize, &str)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let Some((key, _)) = trimmed.split_once(':') else {
            continue;
        };
        if key.is_empty() || key.starts_with('#') || key.starts_with('-') || key.contains(' ') {
            continue;
        }
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key));
        let joined: Vec<&str> = stack.iter().map(|(_, k)| *k).collect();
        if joined.join(".") == path {
            return Some(index + 1);
        }
    }
    None
}

/// The file as a JSON tree (an empty file is an empty configuration).
fn parse_tree(file: &str, text: &str) -> Result<Map<String, Value>, String> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    let mut options = serde_saphyr::Options::default();
    // YAML 1.2 booleans only (`on`/`yes` stay text), as for flows.
    options.strict_booleans = true;
    match serde_saphyr::from_str_with_options::<Value>(text, options) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(format!(
            "{file}:1:1: the configuration must be a mapping of keys"
        )),
        Err(error) => Err(match error.location() {
            Some(at) => format!(
                "{file}:{}:{}: {}",
                at.line(),
                at.column(),
                error
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
            ),
            None => format!("{file}: {error}"),
        }),
    }
}

/// Where the typed parse of the file fails, if it does (line, column).
fn locate(text: &str) -> Option<(usize, usize)> {
    let error = serde_saphyr::from_str::<FileConfig>(text).err()?;
    let location = error.location()?;
    Some((location.line() as usize, location.column() as usize))
}

/// Adds a hint to serde's unknown-field message for Kestra's own layout.
fn hint(message: &str) -> String {
    if message.starts_with("unknown field `kestra`")
        || message.starts_with("unknown field `datasources`")
    {
        format!(
            "{message} (Saker's keys are Kestra's without the `kestra.` prefix: see \
             docs/migrating-from-kestra.md)"
        )
    } else {
        message.to_owned()
    }
}

/// Sets each overridden leaf in `tree`; returns key path → variable for messages.
fn apply_env(
    tree: &mut Map<String, Value>,
    vars: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let mut overridden = BTreeMap::new();
    for (path, kind, aliases) in LEAVES {
        let canonical = env_name(path);
        let found = std::iter::once(canonical.as_str())
            .chain(aliases.iter().copied())
            .find_map(|name| vars.get(name).map(|value| (name, value)));
        let Some((name, text)) = found else {
            continue;
        };
        let value = match kind {
            Kind::Text => Value::String(text.clone()),
            Kind::Integer => match text.trim().parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => return Err(format!("{name}: `{text}` is not a whole number")),
            },
            Kind::Bool => match text.trim() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(format!("{name}: `{text}` is not true or false")),
            },
        };
        set_path(tree, path, value).map_err(|e| format!("{name}: {e}"))?;
        overridden.insert((*path).to_owned(), name.to_owned());
    }
    Ok(overridden)
}

fn set_path(tree: &mut Map<String, Value>, path: &str, value: Value) -> Result<(), String> {
    let mut node = tree;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            node.insert(part.to_owned(), value);
            return Ok(());
        }
        let child = node
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if child.is_null() {
            *child = Value::Object(Map::new());
        }
        node = child
            .as_object_mut()
            .ok_or_else(|| format!("`{part}` in the file is not a mapping"))?;
    }
    Ok(())
}

/// The settings of a parsed file; an error names the key path it is about.
fn resolve(
    file: &str,
    config: FileConfig,
) -> Result<(Settings, Vec<String>), (&'static str, String)> {
    let mut warnings = Vec::new();
    let server = config.server;
    let auth = match server.basic_auth {
        Some(section) if section.enabled.unwrap_or(true) => {
            let mut users: Vec<(String, String)> = Vec::new();
            match (section.username, section.password) {
                (Some(username), Some(password)) => users.push((username, password)),
                (None, None) => {}
                _ => {
                    return Err((
                        "server.basic-auth",
                        "username and password go together".to_owned(),
                    ));
                }
            }
            users.extend(section.users.into_iter().map(|u| (u.username, u.password)));
            if users.is_empty() {
                return Err((
                    "server.basic-auth",
                    "enabled but names no user (username and password, or users)".to_owned(),
                ));
            }
            for (username, password) in &users {
                if username.is_empty() || password.is_empty() {
                    return Err(("server.basic-auth", "empty username or password".to_owned()));
                }
                if saker_server::auth::is_hash(password) {
                    saker_server::auth::check_hash(password)
                        .map_err(|e| ("server.basic-auth", format!("user '{username}': {e}")))?;
                } else {
                    warnings.push(format!(
                        "the password of user '{username}' is in plain text in {file}: store an \
                         argon2 hash instead (saker server hash-password)"
                    ));
                }
            }
            Some(AuthSettings {
                realm: section.realm.unwrap_or_else(|| DEFAULT_REALM.to_owned()),
                users,
            })
        }
        _ => None,
    };
    let storage = match config.storage {
        None => None,
        Some(StorageSection {
            kind: StorageType::Local,
            local,
            s3: _,
        }) => local.map(|l| StorageConfig::Local {
            base_path: l.base_path,
        }),
        Some(StorageSection {
            kind: StorageType::S3,
            s3,
            ..
        }) => {
            let s3 =
                s3.ok_or_else(|| ("storage.type", "s3 needs storage.s3 (bucket, …)".to_owned()))?;
            Some(StorageConfig::S3(S3Config {
                bucket: s3.bucket,
                region: s3.region,
                endpoint: s3.endpoint,
                access_key: s3.access_key,
                secret_key: s3.secret_key,
                session_token: s3.session_token,
                path_style: s3.path_style,
                prefix: s3.prefix,
            }))
        }
    };
    if let Some(key) = &config.encryption.secret_key {
        saker_expr::crypto::key_bytes(key).map_err(|e| ("encryption.secret-key", e.to_string()))?;
    }
    if let Some(url) = &config.database.url {
        check_database_url(url).map_err(|e| ("database.url", e))?;
    }
    let retention = retention_config(config.retention)?;
    let flow_poll = config
        .scheduler
        .flow_poll
        .map_or(DEFAULT_FLOW_POLL, |p| p.0);
    if flow_poll.is_zero() {
        return Err(("scheduler.flow-poll", "must be longer than zero".to_owned()));
    }
    let settings = Settings {
        host: server.host.unwrap_or_else(|| DEFAULT_HOST.to_owned()),
        port: server.port.unwrap_or(DEFAULT_PORT),
        data_dir: config
            .data_dir
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        max_body_bytes: server
            .max_body_size
            .map_or(saker_server::DEFAULT_MAX_BODY_BYTES, |s| s.0),
        termination_grace_period: server
            .termination_grace_period
            .map_or(saker_server::DEFAULT_TERMINATION_GRACE_PERIOD, |p| p.0),
        auth,
        database_url: config.database.url,
        queue: crate::queue_cmd::QueueArgs::default(),
        storage,
        encryption_key: config.encryption.secret_key,
        secrets: config.secrets,
        globals: config.variables.globals,
        templates_enabled: config.templates.enabled,
        max_output_size: config
            .max_output_size
            .map_or(DEFAULT_MAX_OUTPUT_SIZE, |s| s.0),
        retention,
        search_time_range: server
            .search_time_range
            .map_or(Some(saker_server::DEFAULT_SEARCH_TIME_RANGE), |p| {
                Some(p.0).filter(|range| !range.is_zero())
            }),
        flow_poll,
    };
    Ok((settings, warnings))
}

/// The checked `retention` section.
fn retention_config(section: RetentionSection) -> Result<RetentionConfig, (&'static str, String)> {
    let defaults = RetentionConfig::default();
    let interval = section.interval.map_or(defaults.interval, |p| p.0);
    if interval.is_zero() {
        return Err(("retention.interval", "must be longer than zero".to_owned()));
    }
    let batch_size = section.batch_size.unwrap_or(defaults.batch_size);
    if !(1..=1000).contains(&batch_size) {
        return Err((
            "retention.batch-size",
            format!("{batch_size} is not between 1 and 1000"),
        ));
    }
    let mut rules: Vec<RetentionRule> = Vec::new();
    for entry in section.rules {
        let scope = saker_storage::Scope {
            namespace: entry.namespace,
            flow_id: entry.flow_id,
        };
        let name = match &scope.flow_id {
            Some(flow) => format!("flow {}.{flow}", scope.namespace),
            None => format!("namespace {}", scope.namespace),
        };
        if scope.namespace.is_empty() {
            return Err(("retention.rules", "a rule names no namespace".to_owned()));
        }
        if entry.executions.is_none() && entry.logs.is_none() {
            return Err((
                "retention.rules",
                format!("the rule of {name} sets neither executions nor logs"),
            ));
        }
        if rules.iter().any(|rule| rule.scope == scope) {
            return Err((
                "retention.rules",
                format!("{name} has two rules: merge them"),
            ));
        }
        rules.push(RetentionRule {
            scope,
            executions: entry.executions.map(|p| p.0),
            logs: entry.logs.map(|p| p.0),
        });
    }
    Ok(RetentionConfig {
        interval,
        batch_size,
        executions: section.executions.map(|p| p.0),
        logs: section.logs.map(|p| p.0),
        rules,
    })
}

/// `server local`: the `SAKER_RETENTION_*` variables (the overrides of `retention.*`).
pub(crate) fn retention_from_vars(
    vars: &BTreeMap<String, String>,
) -> Result<RetentionConfig, String> {
    let period = |key: &str| -> Result<Option<Period>, String> {
        let name = env_name(key);
        vars.get(&name)
            .map(|text| {
                parse_period(text)
                    .map(Period)
                    .map_err(|e| format!("{name}: {e}"))
            })
            .transpose()
    };
    let batch_size =
        match vars.get(&env_name("retention.batch-size")) {
            Some(text) => Some(text.trim().parse::<u32>().map_err(|_| {
                format!("SAKER_RETENTION_BATCH_SIZE: `{text}` is not a whole number")
            })?),
            None => None,
        };
    retention_config(RetentionSection {
        executions: period("retention.executions")?,
        logs: period("retention.logs")?,
        interval: period("retention.interval")?,
        batch_size,
        rules: Vec::new(),
    })
    .map_err(|(key, message)| format!("{}: {message}", env_name(key)))
}

/// The database URLs this build opens: `sqlite:PATH` / `sqlite://PATH`, `postgres://…` /
/// `postgresql://…` (checked here so a typo fails with the file's line, before connecting).
pub(crate) fn check_database_url(url: &str) -> Result<(), String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(());
    }
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"));
    match rest {
        Some(path) if !path.is_empty() => Ok(()),
        Some(_) => Err(format!("`{url}` names no file")),
        None => Err(format!(
            "`{url}` is not supported: use sqlite:PATH or postgres://USER@HOST:PORT/DATABASE"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn error(text: &str) -> String {
        parse("saker.yml", text, &BTreeMap::new()).unwrap_err()
    }

    #[test]
    fn a_full_file() {
        let text = r#"
data-dir: /var/lib/saker
server:
  host: 0.0.0.0
  port: 9090
  max-body-size: 20MB
  termination-grace-period: PT30S
  basic-auth:
    realm: Ops
    username: admin@example.com
    password: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$O0kUZ8i+VFmIuSZVJn8xCuE7CFVZcVR0vyHJYMKzu1o"
    users:
      - username: ci
        password: plain-text
database:
  url: sqlite:///var/lib/saker/other.db
storage:
  type: s3
  s3:
    bucket: flows
    endpoint: http://127.0.0.1:9000
    path-style: true
encryption:
  secret-key: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
secrets:
  API_TOKEN: t0ken
variables:
  globals:
    env: prod
    retries: 3
templates:
  enabled: true
max-output-size: 2MB
"#;
        let (settings, warnings) = parse("saker.yml", text, &BTreeMap::new()).unwrap();
        assert_eq!(settings.host, "0.0.0.0");
        assert_eq!(settings.port, 9090);
        assert_eq!(settings.data_dir, PathBuf::from("/var/lib/saker"));
        assert_eq!(settings.max_body_bytes, 20 * 1024 * 1024);
        assert_eq!(settings.termination_grace_period, Duration::from_secs(30));
        let auth = settings.auth.unwrap();
        assert_eq!(auth.realm, "Ops");
        assert_eq!(auth.users.len(), 2);
        assert_eq!(auth.users[1], ("ci".to_owned(), "plain-text".to_owned()));
        assert_eq!(
            settings.database_url.as_deref(),
            Some("sqlite:///var/lib/saker/other.db")
        );
        let Some(StorageConfig::S3(s3)) = settings.storage else {
            panic!("s3 storage")
        };
        assert_eq!(s3.bucket, "flows");
        assert_eq!(s3.path_style, Some(true));
        assert!(settings.encryption_key.is_some());
        assert_eq!(settings.secrets["API_TOKEN"], "t0ken");
        assert_eq!(settings.globals["env"], "prod");
        assert_eq!(settings.globals["retries"], 3);
        assert!(settings.templates_enabled);
        assert_eq!(settings.max_output_size, 2 * 1024 * 1024);
        insta::assert_snapshot!(warnings.join("\n"), @"the password of user 'ci' is in plain text in saker.yml: store an argon2 hash instead (saker server hash-password)");
    }

    #[test]
    fn defaults_from_an_empty_file() {
        let (settings, warnings) = parse("saker.yml", "", &BTreeMap::new()).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(settings.port, 8080);
        assert_eq!(settings.host, "127.0.0.1");
        assert_eq!(settings.data_dir, PathBuf::from("data"));
        assert_eq!(settings.max_body_bytes, 10 * 1024 * 1024);
        assert_eq!(settings.termination_grace_period, Duration::from_secs(300));
        assert!(settings.auth.is_none());
        assert!(settings.storage.is_none());
        assert!(settings.database_url.is_none());
        assert_eq!(settings.max_output_size, 1024 * 1024);
        // A disabled section is no authentication.
        let text = "server:\n  basic-auth:\n    enabled: false\n    username: a\n    password: b\n";
        let (settings, _) = parse("saker.yml", text, &BTreeMap::new()).unwrap();
        assert!(settings.auth.is_none());
    }

    #[test]
    fn environment_overrides() {
        let text = "server:\n  port: 9090\n  host: 0.0.0.0\nstorage:\n  type: local\n  local:\n    base-path: /files\n";
        let env = vars(&[
            ("SAKER_SERVER_PORT", "9000"),
            ("SAKER_HOST", "10.0.0.1"),
            ("SAKER_SERVER_MAX_BODY_SIZE", "1KB"),
            ("SAKER_SERVER_BASIC_AUTH_USERNAME", "env-user"),
            ("SAKER_SERVER_BASIC_AUTH_PASSWORD", "env-pass"),
            ("SAKER_STORAGE_LOCAL_BASE_PATH", "/other"),
            ("SAKER_ENCRYPTION_KEY", "MDEyMzQ1Njc4OWFiY2RlZg=="),
            ("SAKER_TEMPLATES_ENABLED", "true"),
            ("SAKER_DATABASE_URL", "sqlite:/tmp/x.db"),
            ("SAKER_UNRELATED", "ignored"),
        ]);
        let (settings, _) = parse("saker.yml", text, &env).unwrap();
        assert_eq!(settings.port, 9000);
        // The alias overrides the file too; the canonical name would win over it.
        assert_eq!(settings.host, "10.0.0.1");
        assert_eq!(settings.max_body_bytes, 1024);
        assert_eq!(
            settings.auth.unwrap().users,
            vec![("env-user".to_owned(), "env-pass".to_owned())]
        );
        assert_eq!(
            settings.storage,
            Some(StorageConfig::Local {
                base_path: "/other".into()
            })
        );
        assert_eq!(
            settings.encryption_key.as_deref(),
            Some("MDEyMzQ1Njc4OWFiY2RlZg==")
        );
        assert!(settings.templates_enabled);
        assert_eq!(settings.database_url.as_deref(), Some("sqlite:/tmp/x.db"));
        let env = vars(&[("SAKER_HOST", "alias"), ("SAKER_SERVER_HOST", "canonical")]);
        let (settings, _) = parse("saker.yml", "", &env).unwrap();
        assert_eq!(settings.host, "canonical");
        assert_eq!(
            env_name("server.max-body-size"),
            "SAKER_SERVER_MAX_BODY_SIZE"
        );
    }

    #[test]
    fn every_overridable_key_exists() {
        // Setting every leaf must give a file the model accepts: the table cannot name a key
        // that does not exist.
        let mut tree = Map::new();
        for (path, kind, _) in LEAVES {
            let value = match kind {
                Kind::Text => Value::String(match *path {
                    "storage.type" => "s3".to_owned(),
                    "database.url" => "sqlite:x.db".to_owned(),
                    "max-output-size" | "server.max-body-size" => "1MB".to_owned(),
                    "server.termination-grace-period"
                    | "server.search-time-range"
                    | "retention.executions"
                    | "retention.logs"
                    | "retention.interval"
                    | "scheduler.flow-poll" => "PT1M".to_owned(),
                    "encryption.secret-key" => "MDEyMzQ1Njc4OWFiY2RlZg==".to_owned(),
                    _ => "x".to_owned(),
                }),
                Kind::Integer => Value::from(1),
                Kind::Bool => Value::Bool(true),
            };
            set_path(&mut tree, path, value).unwrap();
        }
        let config: FileConfig = serde_path_to_error::deserialize(Value::Object(tree)).unwrap();
        assert!(resolve("f", config).is_ok());
    }

    #[test]
    fn diagnostics() {
        let cases = [
            "server:\n  port: 8080\n  prot: 1\n",
            "server:\n  port: eighty\n",
            "server:\n  port: 70000\n",
            "server:\n  max-body-size: 10XB\n",
            "server:\n  termination-grace-period: soon\n",
            "storage:\n  type: gcs\n",
            "storage:\n  type: s3\n",
            "kestra:\n  server:\n    basic-auth:\n      username: a\n",
            "server:\n  basic-auth:\n    username: a\n",
            "server:\n  basic-auth:\n    users:\n      - username: a\n        password: \"$argon2id$broken\"\n",
            "database:\n  url: mysql://localhost/kestra\n",
            "encryption:\n  secret-key: short\n",
            "- a list\n",
            "server: [unclosed\n",
        ];
        let report: Vec<String> = cases
            .iter()
            .map(|text| format!("{}=> {}", text, error(text)))
            .collect();
        insta::assert_snapshot!(report.join("\n\n"));
        let env_errors = [
            vars(&[("SAKER_SERVER_PORT", "x")]),
            vars(&[("SAKER_PORT", "99999")]),
            vars(&[("SAKER_TEMPLATES_ENABLED", "yes")]),
            vars(&[("SAKER_MAX_OUTPUT_SIZE", "lots")]),
        ];
        let report: Vec<String> = env_errors
            .iter()
            .map(|env| parse("saker.yml", "", env).unwrap_err())
            .collect();
        insta::assert_snapshot!(report.join("\n"));
    }

    #[test]
    fn the_documented_example_parses() {
        let text = include_str!("../../../docs/saker.example.yml");
        let (settings, warnings) = parse("saker.example.yml", text, &BTreeMap::new()).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(settings.auth.unwrap().users[0].0, "admin@example.com");
        assert_eq!(settings.globals["environment"], "development");
        assert_eq!(settings.secrets["GREETING"], "hello");
    }

    #[test]
    fn periods() {
        assert_eq!(parse_period("PT5M").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_period("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_period("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_period("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_period("15").unwrap(), Duration::from_secs(15));
        assert!(parse_period("5 minutes").is_err());
        assert!(parse_period("").is_err());
    }

    #[test]
    fn database_urls() {
        assert!(check_database_url("sqlite:data/x.db").is_ok());
        assert!(check_database_url("sqlite:///abs/x.db").is_ok());
        assert!(check_database_url("postgres://localhost/saker").is_ok());
        assert!(check_database_url("postgresql://u@h:5432/saker?max_connections=4").is_ok());
        assert!(check_database_url("sqlite:").is_err());
        assert!(check_database_url("mysql://localhost/saker").is_err());
    }

    #[test]
    fn retention_ages_rules_and_overrides() {
        let text = r#"
retention:
  executions: P30D
  interval: 10m
  rules:
    - namespace: company.team
      executions: P90D
      logs: P7D
    - namespace: company.team
      flow-id: noisy
      executions: P1D
"#;
        let day = Duration::from_secs(86_400);
        let (settings, _) = parse(
            "saker.yml",
            text,
            &vars(&[("SAKER_RETENTION_LOGS", "P14D")]),
        )
        .unwrap();
        let retention = settings.retention;
        assert_eq!(retention.executions, Some(30 * day));
        assert_eq!(retention.logs, Some(14 * day));
        assert_eq!(retention.interval, Duration::from_secs(600));
        assert_eq!(retention.batch_size, 500);
        assert_eq!(retention.rules.len(), 2);
        assert_eq!(retention.rules[0].logs, Some(7 * day));
        assert_eq!(retention.rules[1].scope.flow_id.as_deref(), Some("noisy"));
        assert!(
            !parse("saker.yml", "", &BTreeMap::new())
                .unwrap()
                .0
                .retention
                .is_enabled()
        );

        insta::assert_snapshot!(error("retention:\n  executions: 30 days\n"), @"saker.yml:2:15: retention.executions: invalid duration `30 days`: expected PT5M, 30s, 5m or 1h");
        insta::assert_snapshot!(error("retention:\n  rules:\n    - namespace: a\n"), @"saker.yml:2: retention.rules: the rule of namespace a sets neither executions nor logs");
        insta::assert_snapshot!(error("retention:\n  rules:\n    - namespace: a\n      logs: P1D\n    - namespace: a\n      executions: P1D\n"), @"saker.yml:2: retention.rules: namespace a has two rules: merge them");
        insta::assert_snapshot!(error("retention:\n  batch-size: 0\n"), @"saker.yml:2: retention.batch-size: 0 is not between 1 and 1000");
        let local = retention_from_vars(&vars(&[
            ("SAKER_RETENTION_EXECUTIONS", "P7D"),
            ("SAKER_RETENTION_INTERVAL", "1s"),
        ]))
        .unwrap();
        assert_eq!(local.executions, Some(7 * day));
        assert_eq!(local.interval, Duration::from_secs(1));
        insta::assert_snapshot!(retention_from_vars(&vars(&[("SAKER_RETENTION_INTERVAL", "0s")])).unwrap_err(), @"SAKER_RETENTION_INTERVAL: must be longer than zero");
    }

    #[test]
    fn scheduler_flow_poll() {
        let poll = |text: &str, env: &[(&str, &str)]| {
            parse("saker.yml", text, &vars(env)).map(|(settings, _)| settings.flow_poll)
        };
        assert_eq!(poll("", &[]), Ok(DEFAULT_FLOW_POLL));
        assert_eq!(
            poll("scheduler:\n  flow-poll: PT5M\n", &[]),
            Ok(Duration::from_secs(300))
        );
        assert_eq!(
            poll(
                "scheduler:\n  flow-poll: PT5M\n",
                &[("SAKER_SCHEDULER_FLOW_POLL", "1h")]
            ),
            Ok(Duration::from_secs(3600))
        );
        insta::assert_snapshot!(error("scheduler:\n  flow-poll: 0s\n"), @"saker.yml:2: scheduler.flow-poll: must be longer than zero");
    }
}

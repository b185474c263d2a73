//! What the runtime takes from the machine it runs on: the wall clock, random ids, secrets and
//! `envs` from environment variables, and the expression [`Services`] built on them.
//!
//! Secrets (spec §8.4): `SECRET_<KEY>` holds the base64-encoded value, as Kestra's OSS backend
//! reads it (line breaks inside the base64 text are allowed); `SAKER_SECRET_<KEY>` holds the
//! plain value, for local use where encoding is a chore. Keys are looked up upper-cased.
//!
//! `envs` (spec §7.3): variables prefixed `KESTRA_` or `SAKER_ENV_`, prefix stripped, key
//! lower-cased (`KESTRA_TEST1` → `{{ envs.test1 }}`).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use saker_core::{ExecutionId, IdSource, Instant, JsonMap, TaskRunId};
use saker_engine::EngineServices;
use saker_expr::{Services, Value};
use saker_storage::FileStore;
use saker_task::{Clock, KvStore, StorageError};

/// The wall clock at millisecond precision, as Kestra's instants print (`…00.123Z`).
pub fn now() -> Instant {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(3)
}

/// The system clock (the only place, with the timers, where the runtime reads time).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        now()
    }
}

/// Random ids: uuid v4, as Kestra draws them.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn next_u128(&mut self) -> u128 {
        uuid::Uuid::new_v4().as_u128()
    }

    fn execution_id(&mut self) -> ExecutionId {
        ExecutionId::from_uuid(uuid::Uuid::new_v4())
    }

    fn task_run_id(&mut self) -> TaskRunId {
        TaskRunId::from_uuid(uuid::Uuid::new_v4())
    }
}

/// Secret values by upper-cased key.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    values: BTreeMap<String, String>,
}

/// Environment variable prefixes.
const SECRET_PREFIX: &str = "SECRET_";
const PLAIN_SECRET_PREFIX: &str = "SAKER_SECRET_";
const ENV_PREFIXES: [&str; 2] = ["KESTRA_", "SAKER_ENV_"];

impl Secrets {
    /// Secrets from `(name, value)` pairs shaped like environment variables. A `SECRET_` value
    /// that is not valid base64 is reported in the returned warnings and skipped.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> (Secrets, Vec<String>) {
        let mut values = BTreeMap::new();
        let mut warnings = Vec::new();
        for (name, value) in vars {
            if let Some(key) = name.strip_prefix(PLAIN_SECRET_PREFIX) {
                values.insert(key.to_ascii_uppercase(), value);
            } else if let Some(key) = name.strip_prefix(SECRET_PREFIX) {
                let text: String = value.chars().filter(|c| !c.is_whitespace()).collect();
                match base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                {
                    // A plain-text secret of the same key wins: it was set on purpose.
                    Some(decoded) => {
                        values.entry(key.to_ascii_uppercase()).or_insert(decoded);
                    }
                    None => warnings.push(format!(
                        "environment variable {name} is not base64-encoded UTF-8 text; secret \
                         '{key}' ignored (use {PLAIN_SECRET_PREFIX}{key} for a plain value)"
                    )),
                }
            }
        }
        (Secrets { values }, warnings)
    }

    /// Secrets from this process's environment.
    pub fn from_env() -> (Secrets, Vec<String>) {
        Secrets::from_vars(std::env::vars())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_uppercase())
            .map(String::as_str)
    }

    /// Every secret value, longest first (so masking replaces a value before its substrings).
    pub fn values_for_masking(&self) -> Vec<String> {
        let mut values: Vec<String> = self
            .values
            .values()
            .filter(|v| !v.is_empty())
            .cloned()
            .collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values
    }
}

/// `envs` from `(name, value)` pairs shaped like environment variables.
pub fn envs_from_vars(vars: impl IntoIterator<Item = (String, String)>) -> JsonMap {
    let mut envs = JsonMap::new();
    for (name, value) in vars {
        if let Some(key) = ENV_PREFIXES.iter().find_map(|p| name.strip_prefix(p)) {
            envs.insert(key.to_ascii_lowercase(), Value::String(value));
        }
    }
    envs
}

/// Replaces every secret value in `message` with Kestra's mask.
pub fn mask(message: String, secrets: &[String]) -> String {
    saker_task::log::mask_secrets(message, secrets.iter().map(String::as_str))
}

/// The expression services of the runtime: secrets, KV, internal-storage files, wall-clock
/// `now()` and random `uuid()`; plus `envs` and SECRET input/output encryption for the engine.
#[derive(Clone)]
pub struct HostServices {
    pub secrets: Secrets,
    pub envs: JsonMap,
    /// `globals`: server-configured variables (Kestra's `kestra.variables.globals`).
    pub globals: JsonMap,
    pub kv: Arc<dyn KvStore>,
    pub files: Arc<dyn FileStore>,
    /// Kestra's `kestra.encryption.secret-key` (base64 AES key); `None`: SECRET inputs and
    /// outputs are rejected, as on a server without a key.
    pub encryption_key: Option<String>,
}

/// The expression services of one worker attempt: the host's, plus `errorLogs()`, the ERROR
/// log lines of its execution so far (Kestra's `LogEntry` JSON objects).
pub(crate) struct AttemptServices {
    pub host: Arc<HostServices>,
    pub error_logs: Arc<Vec<Value>>,
}

impl Services for AttemptServices {
    fn secret(&self, key: &str) -> Result<String, String> {
        self.host.secret(key)
    }

    fn kv(&self, namespace: Option<&str>, key: &str) -> Result<Option<Value>, String> {
        self.host.kv(namespace, key)
    }

    fn read(&self, path: &str) -> Result<String, String> {
        self.host.read(path)
    }

    fn file_size(&self, uri: &str) -> Result<Option<u64>, String> {
        self.host.file_size(uri)
    }

    fn error_logs(&self) -> Result<Value, String> {
        Ok(Value::Array(self.error_logs.as_ref().clone()))
    }

    fn now(&self) -> chrono::DateTime<chrono::FixedOffset> {
        self.host.now()
    }

    fn uuid(&self) -> String {
        self.host.uuid()
    }
}

/// Drives a future that is expected to be ready at once (in-memory backends). A store that
/// really waits is driven on the multi-threaded runtime without stalling its other tasks.
fn block_on<F: Future>(future: F) -> Result<F::Output, String> {
    let mut future = std::pin::pin!(future);
    if let Poll::Ready(output) = future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        return Ok(output);
    }
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            Ok(tokio::task::block_in_place(|| handle.block_on(future)))
        }
        _ => Err("this KV store cannot be read from an expression here".to_owned()),
    }
}

impl Services for HostServices {
    fn secret(&self, key: &str) -> Result<String, String> {
        self.secrets
            .get(key)
            .map(str::to_owned)
            .ok_or_else(|| format!("Cannot find secret for key '{key}'."))
    }

    fn kv(&self, namespace: Option<&str>, key: &str) -> Result<Option<Value>, String> {
        let namespace = namespace.ok_or("kv() needs a namespace")?;
        let now = now();
        block_on(self.kv.get(namespace, key, now))?
            .map(|entry| entry.map(|entry| entry.value.value))
            .map_err(|error| error.to_string())
    }

    fn read(&self, path: &str) -> Result<String, String> {
        let bytes = self.files.read_now(path).map_err(|e| e.to_string())?;
        String::from_utf8(bytes).map_err(|_| format!("file '{path}' is not valid UTF-8 text"))
    }

    fn file_size(&self, uri: &str) -> Result<Option<u64>, String> {
        match self.files.size_now(uri) {
            Ok(size) => Ok(Some(size)),
            Err(StorageError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.to_string()),
        }
    }

    fn now(&self) -> chrono::DateTime<chrono::FixedOffset> {
        now().fixed_offset()
    }

    fn uuid(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

impl EngineServices for HostServices {
    fn envs(&self) -> JsonMap {
        self.envs.clone()
    }

    fn globals(&self) -> JsonMap {
        self.globals.clone()
    }

    fn encrypt(&self, plain: &str) -> Result<String, String> {
        match &self.encryption_key {
            Some(key) => saker_expr::crypto::encrypt(key, plain),
            None => Err(saker_engine::inputs::ENCRYPTION_NOT_CONFIGURED.to_owned()),
        }
    }

    fn decrypt(&self, encrypted: &str) -> Result<String, String> {
        match &self.encryption_key {
            Some(key) => saker_expr::crypto::decrypt(key, encrypted),
            None => Err(saker_engine::inputs::ENCRYPTION_NOT_CONFIGURED.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn secrets_decode_base64_and_plain_forms() {
        let long = "passwordveryveryveyrlong".repeat(5);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&long);
        let wrapped = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        let (secrets, warnings) = Secrets::from_vars(vars(&[
            ("SECRET_MY_SECRET", "c2VjcmV0S2V5"),
            ("SECRET_NEW_LINE", &wrapped),
            ("SAKER_SECRET_PLAIN", "in clear"),
            ("SECRET_BAD", "%%%"),
            ("PATH", "/bin"),
        ]));
        assert_eq!(secrets.get("my_secret"), Some("secretKey"));
        assert_eq!(secrets.get("NEW_LINE"), Some(long.as_str()));
        assert_eq!(secrets.get("PLAIN"), Some("in clear"));
        assert_eq!(secrets.get("BAD"), None);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("SECRET_BAD"), "{warnings:?}");
        let masks = secrets.values_for_masking();
        assert_eq!(masks[0], long);
        assert_eq!(
            mask("key is secretKey".into(), &masks),
            "key is **masked*".to_owned()
        );
    }

    #[test]
    fn envs_strip_prefix_and_lower_case() {
        let envs = envs_from_vars(vars(&[
            ("KESTRA_TEST1", "true"),
            ("SAKER_ENV_Other", "x"),
            ("HOME", "/root"),
        ]));
        assert_eq!(envs.get("test1"), Some(&Value::from("true")));
        assert_eq!(envs.get("other"), Some(&Value::from("x")));
        assert_eq!(envs.len(), 2);
    }

    #[test]
    fn random_ids_differ() {
        let mut ids = RandomIds;
        assert_ne!(ids.execution_id(), ids.execution_id());
        assert_ne!(ids.task_run_id(), ids.task_run_id());
    }
}

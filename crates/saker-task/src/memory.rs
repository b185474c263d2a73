//! In-memory implementations of the task services — KV store, internal storage, log source and
//! expression services — for the local runner and tests, plus [`MemoryEnv`] which wires them
//! into a [`RunContext`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use saker_core::{ExecutionId, Instant, TaskRunId};
use saker_expr::{Engine, Services};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::context::{Clock, FixedClock, RunContext, RunServices, TaskRunInfo, base_variables};
use crate::kv::{KvEntry, KvError, KvMeta, KvPut, KvStore, KvValue};
use crate::log::{Level, LogQuery, LogSource, MemoryLogSink};
use crate::storage::{Storage, StorageError, check_uri};
use crate::task::BoxFuture;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep using it.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Clone)]
struct StoredKv {
    value: KvValue,
    description: Option<String>,
    creation_date: Instant,
    update_date: Instant,
    expiration_date: Option<Instant>,
}

impl StoredKv {
    fn expired(&self, now: Instant) -> bool {
        self.expiration_date.is_some_and(|at| at <= now)
    }

    fn meta(&self, key: &str) -> KvMeta {
        KvMeta {
            key: key.to_owned(),
            description: self.description.clone(),
            creation_date: self.creation_date,
            update_date: self.update_date,
            expiration_date: self.expiration_date,
        }
    }
}

/// A KV store in a map: `(namespace, key) → entry`.
#[derive(Debug, Default)]
pub struct MemoryKvStore {
    entries: Mutex<BTreeMap<(String, String), StoredKv>>,
}

impl MemoryKvStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Synchronous read, shared by the async trait and the expression services.
    pub fn get_now(
        &self,
        namespace: &str,
        key: &str,
        now: Instant,
    ) -> Result<Option<KvEntry>, KvError> {
        let mut entries = lock(&self.entries);
        let id = (namespace.to_owned(), key.to_owned());
        match entries.get(&id) {
            None => Ok(None),
            Some(stored) if stored.expired(now) => {
                entries.remove(&id);
                Err(KvError::Expired)
            }
            Some(stored) => Ok(Some(KvEntry {
                value: stored.value.clone(),
                meta: stored.meta(key),
            })),
        }
    }
}

impl MemoryKvStore {
    /// The entries of `namespace` that are expired at `now` (or live, when `expired` is false).
    fn metas(&self, namespace: &str, now: Instant, expired: bool) -> Vec<KvMeta> {
        lock(&self.entries)
            .iter()
            .filter(|((ns, _), stored)| ns == namespace && stored.expired(now) == expired)
            .map(|((_, key), stored)| stored.meta(key))
            .collect()
    }
}

impl KvStore for MemoryKvStore {
    fn get<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        now: Instant,
    ) -> BoxFuture<'a, Result<Option<KvEntry>, KvError>> {
        Box::pin(async move { self.get_now(namespace, key, now) })
    }

    fn put<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        entry: KvPut,
        now: Instant,
    ) -> BoxFuture<'a, Result<(), KvError>> {
        Box::pin(async move {
            crate::kv::validate_key(key)?;
            let mut entries = lock(&self.entries);
            let id = (namespace.to_owned(), key.to_owned());
            let live = entries.get(&id).filter(|stored| !stored.expired(now));
            if live.is_some() && !entry.overwrite {
                return Err(KvError::AlreadyExists {
                    key: key.to_owned(),
                });
            }
            let creation_date = live.map_or(now, |stored| stored.creation_date);
            entries.insert(
                id,
                StoredKv {
                    value: entry.value,
                    description: entry.description,
                    creation_date,
                    update_date: now,
                    expiration_date: entry.expiration,
                },
            );
            Ok(())
        })
    }

    fn delete<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, KvError>> {
        Box::pin(async move {
            Ok(lock(&self.entries)
                .remove(&(namespace.to_owned(), key.to_owned()))
                .is_some())
        })
    }

    fn list<'a>(
        &'a self,
        namespace: &'a str,
        now: Instant,
    ) -> BoxFuture<'a, Result<Vec<KvMeta>, KvError>> {
        Box::pin(async move { Ok(self.metas(namespace, now, false)) })
    }

    fn list_expired<'a>(
        &'a self,
        namespace: &'a str,
        now: Instant,
    ) -> BoxFuture<'a, Result<Vec<KvMeta>, KvError>> {
        Box::pin(async move { Ok(self.metas(namespace, now, true)) })
    }

    fn delete_expired<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        now: Instant,
    ) -> BoxFuture<'a, Result<bool, KvError>> {
        Box::pin(async move {
            let mut entries = lock(&self.entries);
            let id = (namespace.to_owned(), key.to_owned());
            let expired = entries.get(&id).is_some_and(|stored| stored.expired(now));
            if expired {
                entries.remove(&id);
            }
            Ok(expired)
        })
    }

    fn namespaces(&self) -> BoxFuture<'_, Result<Vec<String>, KvError>> {
        Box::pin(async move {
            let mut namespaces: Vec<String> = lock(&self.entries)
                .keys()
                .map(|(ns, _)| ns.clone())
                .collect();
            // Keys are sorted by (namespace, key), so equal namespaces are adjacent.
            namespaces.dedup();
            Ok(namespaces)
        })
    }
}

/// Internal storage in a map: `uri → bytes`.
#[derive(Debug, Default)]
pub struct MemoryStorage {
    files: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every stored URI, sorted.
    pub fn uris(&self) -> Vec<String> {
        lock(&self.files).keys().cloned().collect()
    }

    /// Synchronous read, shared by the async trait and the expression services.
    pub fn get_now(&self, uri: &str) -> Result<Vec<u8>, StorageError> {
        check_uri(uri)?;
        lock(&self.files)
            .get(uri)
            .cloned()
            .ok_or_else(|| StorageError::NotFound {
                uri: uri.to_owned(),
            })
    }
}

impl Storage for MemoryStorage {
    fn put<'a>(
        &'a self,
        uri: &'a str,
        content: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            check_uri(uri)?;
            lock(&self.files).insert(uri.to_owned(), content);
            Ok(())
        })
    }

    fn get<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<Vec<u8>, StorageError>> {
        Box::pin(async move { self.get_now(uri) })
    }

    fn exists<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            check_uri(uri)?;
            Ok(lock(&self.files).contains_key(uri))
        })
    }

    fn size<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move { self.get_now(uri).map(|bytes| bytes.len() as u64) })
    }

    fn delete<'a>(&'a self, uri: &'a str) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            check_uri(uri)?;
            Ok(lock(&self.files).remove(uri).is_some())
        })
    }

    fn list<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<crate::storage::FileInfo>, StorageError>> {
        Box::pin(async move {
            check_uri(prefix)?;
            Ok(lock(&self.files)
                .iter()
                .filter(|(uri, _)| uri.starts_with(prefix))
                .map(|(uri, bytes)| crate::storage::FileInfo {
                    uri: uri.clone(),
                    size: bytes.len() as u64,
                    modified: None,
                })
                .collect())
        })
    }

    fn delete_by_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StorageError>> {
        Box::pin(async move {
            check_uri(prefix)?;
            let mut files = lock(&self.files);
            let doomed: Vec<String> = files
                .keys()
                .filter(|uri| uri.starts_with(prefix))
                .cloned()
                .collect();
            for uri in &doomed {
                files.remove(uri);
            }
            Ok(doomed)
        })
    }
}

/// Stored log entries (JSON objects shaped like Kestra's `LogEntry`).
#[derive(Debug, Default)]
pub struct MemoryLogSource {
    entries: Mutex<Vec<Value>>,
}

impl MemoryLogSource {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&self, entry: Value) {
        lock(&self.entries).push(entry);
    }
}

impl LogSource for MemoryLogSource {
    fn fetch(&self, query: LogQuery) -> BoxFuture<'_, Result<Vec<Value>, String>> {
        Box::pin(async move {
            let field = |entry: &Value, name: &str| {
                entry
                    .get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_default()
            };
            Ok(lock(&self.entries)
                .iter()
                .filter(|entry| {
                    field(entry, "namespace") == query.namespace
                        && field(entry, "flowId") == query.flow_id
                        && field(entry, "executionId") == query.execution_id
                        && (query.task_ids.is_empty()
                            || query.task_ids.contains(&field(entry, "taskId")))
                        && serde_json::from_value::<Level>(
                            entry.get("level").cloned().unwrap_or_default(),
                        )
                        .is_ok_and(|level| level >= query.min_level)
                })
                .cloned()
                .collect())
        })
    }
}

/// Expression services over the in-memory stores: `secret()` from a map, `kv()` from the
/// [`MemoryKvStore`], `read()`/`fileSize()` from the [`MemoryStorage`], `now()` from the clock and
/// sequential `uuid()`s.
pub struct MemoryServices {
    pub secrets: BTreeMap<String, String>,
    kv: Arc<MemoryKvStore>,
    storage: Arc<MemoryStorage>,
    clock: Arc<dyn Clock>,
    uuids: AtomicU64,
}

impl MemoryServices {
    pub fn new(kv: Arc<MemoryKvStore>, storage: Arc<MemoryStorage>, clock: Arc<dyn Clock>) -> Self {
        MemoryServices {
            secrets: BTreeMap::new(),
            kv,
            storage,
            clock,
            uuids: AtomicU64::new(0),
        }
    }
}

impl Services for MemoryServices {
    fn secret(&self, key: &str) -> Result<String, String> {
        self.secrets
            .get(&key.to_ascii_uppercase())
            .or_else(|| self.secrets.get(key))
            .cloned()
            .ok_or_else(|| format!("Cannot find secret for key '{key}'."))
    }

    fn kv(&self, namespace: Option<&str>, key: &str) -> Result<Option<Value>, String> {
        let namespace = namespace.ok_or("kv() needs a namespace")?;
        self.kv
            .get_now(namespace, key, self.clock.now())
            .map(|entry| entry.map(|entry| entry.value.value))
            .map_err(|error| error.to_string())
    }

    fn read(&self, path: &str) -> Result<String, String> {
        let bytes = self
            .storage
            .get_now(path)
            .map_err(|error| error.to_string())?;
        String::from_utf8(bytes).map_err(|_| format!("file '{path}' is not valid UTF-8 text"))
    }

    fn file_size(&self, uri: &str) -> Result<Option<u64>, String> {
        match self.storage.get_now(uri) {
            Ok(bytes) => Ok(Some(bytes.len() as u64)),
            Err(StorageError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.to_string()),
        }
    }

    fn now(&self) -> chrono::DateTime<chrono::FixedOffset> {
        self.clock.now().fixed_offset()
    }

    fn uuid(&self) -> String {
        let n = self.uuids.fetch_add(1, Ordering::Relaxed) + 1;
        format!("00000000-0000-4000-8000-{n:012x}")
    }
}

/// A complete in-memory environment: build contexts with [`MemoryEnv::context`], then inspect
/// the stores and the collected logs.
pub struct MemoryEnv {
    pub engine: Arc<Engine>,
    pub kv: Arc<MemoryKvStore>,
    pub storage: Arc<MemoryStorage>,
    pub log_source: Arc<MemoryLogSource>,
    pub logs: MemoryLogSink,
    pub clock: Arc<FixedClock>,
    pub secrets: BTreeMap<String, String>,
    /// What the purge tasks reach (none by default).
    pub purger: Option<Arc<dyn crate::purge::Purger>>,
}

impl MemoryEnv {
    pub fn new(now: Instant) -> Self {
        MemoryEnv {
            engine: Arc::new(Engine::new()),
            kv: Arc::new(MemoryKvStore::new()),
            storage: Arc::new(MemoryStorage::new()),
            log_source: Arc::new(MemoryLogSource::new()),
            logs: MemoryLogSink::new(),
            clock: Arc::new(FixedClock::new(now)),
            secrets: BTreeMap::new(),
            purger: None,
        }
    }

    pub fn services(&self) -> RunServices {
        let mut expr =
            MemoryServices::new(self.kv.clone(), self.storage.clone(), self.clock.clone());
        expr.secrets = self.secrets.clone();
        RunServices {
            engine: self.engine.clone(),
            expr: Arc::new(expr),
            kv: self.kv.clone(),
            storage: self.storage.clone(),
            logs: Some(self.log_source.clone()),
            purger: self.purger.clone(),
            log_sink: Arc::new(self.logs.clone()),
            clock: self.clock.clone(),
        }
    }

    /// A context for `info` whose variables are [`base_variables`] plus `extra` (an object
    /// merged on top: `inputs`, `outputs`, `vars`…).
    pub fn context(&self, info: TaskRunInfo, extra: Value) -> RunContext {
        self.context_with_cancel(info, extra, CancellationToken::new())
    }

    pub fn context_with_cancel(
        &self,
        info: TaskRunInfo,
        extra: Value,
        cancel: CancellationToken,
    ) -> RunContext {
        let mut variables = base_variables(&info, self.clock.now());
        if let Value::Object(extra) = extra {
            variables.extend(extra);
        }
        RunContext::new(info, Value::Object(variables), self.services(), cancel)
    }
}

/// A task-run identity for tests: namespace `company.team`, flow `flow`, fixed ids.
pub fn test_info(task_id: &str, task_type: &str) -> TaskRunInfo {
    TaskRunInfo {
        execution_id: ExecutionId::new("exec1"),
        task_run_id: TaskRunId::new("run1"),
        task_id: task_id.to_owned(),
        task_type: task_type.to_owned(),
        namespace: "company.team".to_owned(),
        flow_id: "flow".to_owned(),
        value: None,
        attempt: 1,
    }
}

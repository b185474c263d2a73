//! The namespace key-value store seen by tasks (spec §8.1): the [`KvStore`] trait, its value
//! types and errors. Namespace-parent fallback is applied by callers ([`get_inherited`]), not by
//! stores, so every backend stays a plain per-namespace map.

use saker_core::Instant;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::task::BoxFuture;

/// The type of a stored value, as the API and UI report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum KvType {
    /// Kept as a string.
    String,
    /// Parsed as a JSON number.
    Number,
    /// `true` (case-insensitive) or false.
    Boolean,
    /// Parsed as an ISO instant.
    Datetime,
    /// Parsed as an ISO date.
    Date,
    /// Parsed as an ISO-8601 duration.
    Duration,
    /// Parsed as JSON.
    Json,
}

impl KvType {
    /// The type Kestra infers for a value stored without an explicit type. Timestamps and
    /// durations cannot be told apart from strings in JSON, so callers that know pass the type.
    pub fn infer(value: &Value) -> KvType {
        match value {
            Value::String(_) => KvType::String,
            Value::Number(_) => KvType::Number,
            Value::Bool(_) => KvType::Boolean,
            _ => KvType::Json,
        }
    }
}

/// A stored value with its type.
#[derive(Debug, Clone, PartialEq)]
pub struct KvValue {
    pub kind: KvType,
    pub value: Value,
}

impl KvValue {
    /// A value whose type is inferred.
    pub fn new(value: Value) -> Self {
        KvValue {
            kind: KvType::infer(&value),
            value,
        }
    }
}

/// What `put` writes.
#[derive(Debug, Clone, PartialEq)]
pub struct KvPut {
    pub value: KvValue,
    pub description: Option<String>,
    /// Absolute expiration (write time + ttl).
    pub expiration: Option<Instant>,
    /// `false` makes the write fail when a live entry exists.
    pub overwrite: bool,
}

/// A live entry as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct KvEntry {
    pub value: KvValue,
    pub meta: KvMeta,
}

/// Listing information (`GET …/kv`).
#[derive(Debug, Clone, PartialEq)]
pub struct KvMeta {
    pub key: String,
    pub description: Option<String>,
    pub creation_date: Instant,
    pub update_date: Instant,
    pub expiration_date: Option<Instant>,
}

/// KV failures, with Kestra's messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    #[error("The requested value has expired")]
    Expired,
    #[error(
        "Cannot set value for key '{key}'. Key already exists and `overwrite` is set to `false`."
    )]
    AlreadyExists { key: String },
    #[error(
        "Key '{key}' is invalid: key must start with an alphanumeric character (uppercase or lowercase) and can contain alphanumeric characters (uppercase or lowercase), dots (.), underscores (_), and hyphens (-) only."
    )]
    InvalidKey { key: String },
    /// A storage problem of the backend.
    #[error("failed to access the KV store: {0}")]
    Backend(String),
}

/// Key rule: `[a-zA-Z0-9][a-zA-Z0-9._-]*`.
pub fn validate_key(key: &str) -> Result<(), KvError> {
    let mut chars = key.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if valid {
        Ok(())
    } else {
        Err(KvError::InvalidKey {
            key: key.to_owned(),
        })
    }
}

/// A per-namespace key-value store. `now` is passed in because stores read no clock; an entry
/// whose expiration is not after `now` is expired.
pub trait KvStore: Send + Sync {
    /// The live entry, `Ok(None)` when missing. Reading an expired entry deletes it and returns
    /// [`KvError::Expired`] (a second read then sees it missing).
    fn get<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        now: Instant,
    ) -> BoxFuture<'a, Result<Option<KvEntry>, KvError>>;

    /// Writes an entry ([`KvError::AlreadyExists`] when `overwrite` is false and a live entry
    /// exists). Keeps the creation date of a replaced entry.
    fn put<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        entry: KvPut,
        now: Instant,
    ) -> BoxFuture<'a, Result<(), KvError>>;

    /// Deletes an entry; `true` if one existed (expired or not).
    fn delete<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, KvError>>;

    /// Every live entry of the namespace, sorted by key.
    fn list<'a>(
        &'a self,
        namespace: &'a str,
        now: Instant,
    ) -> BoxFuture<'a, Result<Vec<KvMeta>, KvError>>;

    /// Every expired entry of the namespace (expiration not after `now`), sorted by key: what
    /// `PurgeKV` removes by default, since reads only drop the expired entries they meet.
    fn list_expired<'a>(
        &'a self,
        namespace: &'a str,
        now: Instant,
    ) -> BoxFuture<'a, Result<Vec<KvMeta>, KvError>>;

    /// Deletes an entry only if it is expired at `now`, so a value re-written since it was
    /// listed survives; `true` if one was deleted.
    fn delete_expired<'a>(
        &'a self,
        namespace: &'a str,
        key: &'a str,
        now: Instant,
    ) -> BoxFuture<'a, Result<bool, KvError>>;

    /// Every namespace holding at least one entry (live or expired), sorted.
    fn namespaces(&self) -> BoxFuture<'_, Result<Vec<String>, KvError>>;
}

/// Lookup with namespace inheritance (`a.b.c`, then `a.b`, then `a`), used when the caller did
/// not name another namespace explicitly. Returns the namespace the entry was found in.
pub async fn get_inherited(
    store: &dyn KvStore,
    namespace: &str,
    key: &str,
    now: Instant,
) -> Result<Option<(String, KvEntry)>, KvError> {
    let mut current = Some(namespace);
    while let Some(ns) = current {
        if let Some(entry) = store.get(ns, key, now).await? {
            return Ok(Some((ns.to_owned(), entry)));
        }
        current = ns.rsplit_once('.').map(|(parent, _)| parent);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_rule() {
        for good in ["a", "A1", "my_key.v-2", "0"] {
            assert_eq!(validate_key(good), Ok(()), "{good}");
        }
        for bad in ["", "_a", ".a", "a b", "a/b", "é"] {
            assert!(validate_key(bad).is_err(), "{bad}");
        }
        let message = validate_key("-x").unwrap_err().to_string();
        assert!(message.starts_with("Key '-x' is invalid"), "{message}");
    }

    #[test]
    fn type_inference() {
        assert_eq!(KvType::infer(&Value::from("x")), KvType::String);
        assert_eq!(KvType::infer(&Value::from(1.5)), KvType::Number);
        assert_eq!(KvType::infer(&Value::from(true)), KvType::Boolean);
        assert_eq!(KvType::infer(&serde_json::json!([1])), KvType::Json);
    }
}

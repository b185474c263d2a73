//! What the engine may ask of its host: expression services plus server variables.

use saker_core::{Instant, JsonMap};
use saker_expr::{Services, Value};

/// Host services for rendering. Every method has a neutral default.
pub trait EngineServices: Services {
    /// `envs`: server environment variables (prefix stripped, lower-cased keys).
    fn envs(&self) -> JsonMap {
        JsonMap::new()
    }

    /// `globals`: server-configured global variables.
    fn globals(&self) -> JsonMap {
        JsonMap::new()
    }

    /// Encrypts a SECRET input/output value with the server key (`kestra.encryption.secret-key`);
    /// the default is a server without a key.
    fn encrypt(&self, _plain: &str) -> Result<String, String> {
        Err(crate::inputs::ENCRYPTION_NOT_CONFIGURED.to_owned())
    }

    /// Decrypts what [`EngineServices::encrypt`] produced.
    fn decrypt(&self, _encrypted: &str) -> Result<String, String> {
        Err(crate::inputs::ENCRYPTION_NOT_CONFIGURED.to_owned())
    }
}

/// Services that know nothing (tests, dry runs).
pub struct NoEngineServices;

impl Services for NoEngineServices {}
impl EngineServices for NoEngineServices {}

/// The host's services with `now()` pinned to the event's instant, so renders are
/// reproducible (the engine never reads a clock).
pub(crate) struct At<'a> {
    pub(crate) inner: &'a dyn EngineServices,
    pub(crate) now: Instant,
}

impl Services for At<'_> {
    fn secret(&self, key: &str) -> Result<String, String> {
        self.inner.secret(key)
    }
    fn kv(&self, namespace: Option<&str>, key: &str) -> Result<Option<Value>, String> {
        self.inner.kv(namespace, key)
    }
    fn read(&self, path: &str) -> Result<String, String> {
        self.inner.read(path)
    }
    fn file_size(&self, uri: &str) -> Result<Option<u64>, String> {
        self.inner.file_size(uri)
    }
    fn error_logs(&self) -> Result<Value, String> {
        self.inner.error_logs()
    }
    fn now(&self) -> chrono::DateTime<chrono::FixedOffset> {
        self.now.fixed_offset()
    }
    fn uuid(&self) -> String {
        self.inner.uuid()
    }
}

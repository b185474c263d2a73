//! Task logs: the [`TaskLogger`] a task writes to, the [`LogSink`] the caller collects lines
//! with, and the [`LogSource`] the `log.Fetch` task reads past logs from.

use std::sync::{Arc, Mutex};

use saker_core::Instant;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::Clock;
use crate::task::BoxFuture;

/// Log level, as Kestra names it (ordered from the finest).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Finest level.
    Trace,
    /// Debugging details.
    Debug,
    /// Normal information (the default).
    Info,
    /// Warnings.
    Warn,
    /// Errors.
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One line written by a task. The caller adds the task-run identity when it stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    pub level: Level,
    pub message: String,
    pub timestamp: Instant,
}

/// Where task log lines go (the worker forwards them to the log store).
pub trait LogSink: Send + Sync {
    fn emit(&self, line: LogLine);
}

impl LogSink for tokio::sync::mpsc::UnboundedSender<LogLine> {
    fn emit(&self, line: LogLine) {
        // A closed receiver means the worker stopped listening; the task must still finish.
        let _ = self.send(line);
    }
}

/// A sink that keeps every line in memory (local runner, tests).
#[derive(Debug, Default, Clone)]
pub struct MemoryLogSink {
    lines: Arc<Mutex<Vec<LogLine>>>,
}

impl MemoryLogSink {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every line emitted so far.
    pub fn lines(&self) -> Vec<LogLine> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `LEVEL message` of every line, for compact test assertions.
    pub fn texts(&self) -> Vec<String> {
        self.lines()
            .iter()
            .map(|line| format!("{} {}", line.level, line.message))
            .collect()
    }
}

impl LogSink for MemoryLogSink {
    fn emit(&self, line: LogLine) {
        self.lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }
}

/// The logger handed to a task (`ctx.logger().info(..)`): stamps lines with the injected clock
/// and masks secret values that were rendered during this run ([`mask_secrets`]).
#[derive(Clone)]
pub struct TaskLogger {
    sink: Arc<dyn LogSink>,
    clock: Arc<dyn Clock>,
    secrets: Arc<Mutex<Vec<String>>>,
}

/// Kestra's replacement text for a secret value in logs: one `*` per character, and the first
/// run of nine stars reads `**masked*` (Kestra 0.21's `RunContextLogger.replaceSecret`).
pub fn mask_secrets<'a>(message: String, secrets: impl IntoIterator<Item = &'a str>) -> String {
    let mut message = message;
    for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
        if message.contains(secret) {
            message = message.replace(secret, &"*".repeat(secret.chars().count()));
            message = message.replacen("*********", "**masked*", 1);
        }
    }
    message
}

impl TaskLogger {
    pub fn new(
        sink: Arc<dyn LogSink>,
        clock: Arc<dyn Clock>,
        secrets: Arc<Mutex<Vec<String>>>,
    ) -> Self {
        TaskLogger {
            sink,
            clock,
            secrets,
        }
    }

    pub fn log(&self, level: Level, message: impl Into<String>) {
        let secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        let message = mask_secrets(message.into(), secrets.iter().map(String::as_str));
        drop(secrets);
        self.sink.emit(LogLine {
            level,
            message,
            timestamp: self.clock.now(),
        });
    }

    pub fn trace(&self, message: impl Into<String>) {
        self.log(Level::Trace, message);
    }

    pub fn debug(&self, message: impl Into<String>) {
        self.log(Level::Debug, message);
    }

    pub fn info(&self, message: impl Into<String>) {
        self.log(Level::Info, message);
    }

    pub fn warn(&self, message: impl Into<String>) {
        self.log(Level::Warn, message);
    }

    pub fn error(&self, message: impl Into<String>) {
        self.log(Level::Error, message);
    }
}

impl std::fmt::Debug for TaskLogger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskLogger").finish_non_exhaustive()
    }
}

/// Which stored logs `log.Fetch` wants.
#[derive(Debug, Clone, PartialEq)]
pub struct LogQuery {
    pub namespace: String,
    pub flow_id: String,
    pub execution_id: String,
    /// Only these task ids (empty: all tasks).
    pub task_ids: Vec<String>,
    /// Minimum level.
    pub min_level: Level,
}

/// Read access to stored task logs. Each entry is a JSON object shaped like Kestra's
/// `LogEntry` (`namespace`, `flowId`, `taskId`, `executionId`, `taskRunId`, `attemptNumber`,
/// `timestamp`, `level`, `thread`, `message`), in timestamp order.
pub trait LogSource: Send + Sync {
    fn fetch(&self, query: LogQuery) -> BoxFuture<'_, Result<Vec<Value>, String>>;
}

#[cfg(test)]
mod tests {
    use super::mask_secrets;

    #[test]
    fn secrets_are_masked_star_for_char_with_kestras_nine_star_marker() {
        let mask = |message: &str, secrets: &[&str]| {
            mask_secrets(message.to_owned(), secrets.iter().copied())
        };
        assert_eq!(mask("my password!", &["password"]), "my ********!");
        assert_eq!(mask("key=secretKey", &["secretKey"]), "key=**masked*");
        assert_eq!(
            mask("long: passwordlong", &["passwordlong"]),
            "long: **masked****"
        );
        assert_eq!(mask("nothing here", &["", "absent"]), "nothing here");
    }
}

//! `saker flow test`: runs one flow in-process on a throw-away store (in memory, internal storage
//! in a temporary directory), streaming its logs to stderr, then prints a summary line and, with
//! `--json`, the final execution (Kestra's JSON shape) on stdout.
//!
//! Exit status: 0 when an execution ran (whatever its final state), 2 when the flow, its
//! inputs or the invocation were rejected.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use saker_core::{Execution, FlowRef, IdSource, Label, StateType};
use saker_flow::{Flow, LoadOptions, Renderer, Severity};
use saker_runtime::host::{RandomIds, Secrets};
use saker_runtime::inputs::Raw;
use saker_runtime::{LogObserver, Runtime};
use saker_storage::{FileStore, LocalStorage, LogEntry, MemoryStore, StorageConfig, Store};
use saker_task::Level;
use saker_task::memory::MemoryKvStore;

use crate::catalog::catalog;
use crate::flow_cmd::collect;

/// Exit status for a rejected flow, inputs or invocation.
const REJECTED: u8 = 2;

/// The arguments of `saker flow test`.
pub(crate) struct TestArgs {
    pub file: PathBuf,
    pub flows: Vec<PathBuf>,
    pub inputs: Vec<String>,
    pub labels: Vec<String>,
    pub json: bool,
    /// Outputs over this many bytes go to internal storage (0: no limit).
    pub max_output_size: usize,
    /// Template tasks include templates from the `--flows` documents.
    pub templates: bool,
}

/// Prints log lines as they are stored: `2026-01-01T00:00:00.000Z INFO  taskId message`.
struct StderrLogs {
    color: bool,
}

impl LogObserver for StderrLogs {
    fn log(&self, entry: &LogEntry) {
        let time = entry.timestamp.format("%Y-%m-%dT%H:%M:%S%.3fZ");
        let task = entry.task_id.as_deref().unwrap_or("-");
        let level = format!("{:<5}", entry.level.as_str());
        let level = if self.color {
            let code = match entry.level {
                Level::Error => "31",
                Level::Warn => "33",
                Level::Info => "32",
                Level::Debug | Level::Trace => "90",
            };
            format!("\x1b[{code}m{level}\x1b[0m")
        } else {
            level
        };
        // Multi-line messages stay readable: continuation lines are indented.
        let message = entry.message.replace('\n', "\n    ");
        let _ = writeln!(std::io::stderr().lock(), "{time} {level} {task} {message}");
    }
}

/// Parses and validates the flow file, rendering diagnostics on stderr when it is rejected.
/// Also returns the plugin defaults that were ignored (Kestra logs them on the execution).
fn load_flow(file: &Path) -> Result<(Flow, Vec<String>), ExitCode> {
    let bytes = std::fs::read(file).map_err(|e| {
        eprintln!("error: cannot read {}: {e}", file.display());
        ExitCode::from(REJECTED)
    })?;
    let mut docs = saker_flow::check_bytes(&bytes, Some(file), catalog(), &LoadOptions::default());
    if docs.len() != 1 {
        eprintln!(
            "error: {} holds {} flow documents; `flow test` runs exactly one",
            file.display(),
            docs.len()
        );
        return Err(ExitCode::from(REJECTED));
    }
    let doc = docs.remove(0);
    if doc.is_valid()
        && let Some(flow) = doc.flow
    {
        let ignored = doc
            .diagnostics
            .iter()
            .filter(|d| d.code == saker_flow::diag::codes::PLUGIN_DEFAULTS)
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect();
        return Ok((flow, ignored));
    }
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let shown: Vec<_> = doc
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Info)
        .cloned()
        .collect();
    eprintln!(
        "error: {} is not a valid flow\n{}",
        file.display(),
        Renderer::new(&doc.source, color).render_all(&shown)
    );
    Err(ExitCode::from(REJECTED))
}

/// Stores every valid flow of the `--flows` files and folders (invalid ones are reported and
/// skipped: a broken neighbour should not stop the flow under test). Returns the documents
/// shaped like a legacy template (only `id`, `namespace`, `description`, `tasks`, `errors`):
/// with templates enabled, Template tasks include them.
async fn load_flows(
    store: &MemoryStore,
    paths: &[PathBuf],
) -> Result<Vec<saker_flow::template::Template>, String> {
    let mut templates = Vec::new();
    for file in collect(paths)? {
        let bytes =
            std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        for doc in saker_flow::check_bytes(&bytes, Some(&file), catalog(), &LoadOptions::default())
        {
            match doc.flow {
                Some(flow) if doc.diagnostics.iter().all(|d| !d.is_error()) => {
                    store
                        .put_flow(&flow.namespace, &flow.id, &flow.source)
                        .await
                        .map_err(|e| e.to_string())?;
                    templates.extend(saker_flow::template::Template::from_flow(&flow));
                }
                _ => eprintln!(
                    "warning: {} is not a valid flow, not loaded",
                    file.display()
                ),
            }
        }
    }
    Ok(templates)
}

fn split_pair<'a>(text: &'a str, what: &str) -> Result<(&'a str, &'a str), String> {
    text.split_once('=')
        .filter(|(key, _)| !key.is_empty())
        .ok_or_else(|| format!("invalid {what} `{text}`: expected KEY=VALUE"))
}

/// Raw inputs from `--input KEY=VALUE` and `--input KEY=@FILE`; files are uploaded to internal
/// storage under the execution's `inputs/<key>/` prefix and passed as their URI.
async fn raw_inputs(
    args: &[String],
    storage: &dyn FileStore,
    execution: &Execution,
) -> Result<Vec<(String, Raw)>, String> {
    let mut inputs = Vec::new();
    for arg in args {
        let (key, value) = split_pair(arg, "--input")?;
        let value = match value.strip_prefix('@') {
            Some(path) => {
                let path = Path::new(path);
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "file".to_owned());
                let uri = format!(
                    "{}inputs/{key}/{name}",
                    saker_task::storage::execution_prefix(
                        &execution.namespace,
                        &execution.flow_id,
                        execution.id.as_str()
                    )
                );
                // Streamed: an input file may be bigger than memory.
                storage
                    .put_file(&uri, path)
                    .await
                    .map_err(|e| format!("cannot store input file {}: {e}", path.display()))?;
                Raw::File {
                    filename: name,
                    uri,
                }
            }
            None => Raw::Text(value.to_owned()),
        };
        inputs.push((key.to_owned(), value));
    }
    Ok(inputs)
}

/// The variable holding the AES key of SECRET inputs/outputs (Kestra's
/// `kestra.encryption.secret-key`), base64 of 16 or 32 bytes.
const ENCRYPTION_KEY_VAR: &str = "SAKER_ENCRYPTION_KEY";

/// The key SECRET inputs and outputs are encrypted with: the configured one, else a random key
/// for this run (the values never outlive the process, so nobody needs it afterwards).
fn encryption_key(configured: Option<String>) -> Result<String, String> {
    match configured {
        Some(key) => saker_expr::crypto::key_bytes(&key)
            .map(|_| key)
            .map_err(|e| format!("{ENCRYPTION_KEY_VAR}: {e}")),
        None => Ok(saker_expr::crypto::generate_key()),
    }
}

pub(crate) fn test(args: TestArgs) -> ExitCode {
    let (flow, ignored_defaults) = match load_flow(&args.file) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    crate::block_on(run(flow, ignored_defaults, args))
}

async fn run(flow: Flow, ignored_defaults: Vec<String>, args: TestArgs) -> ExitCode {
    let rejected = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(REJECTED)
    };
    let temp = match tempfile::Builder::new().prefix("saker-test-").tempdir() {
        Ok(temp) => temp,
        Err(e) => return rejected(format!("cannot create a temporary directory: {e}")),
    };
    let store = Arc::new(MemoryStore::new());
    // Internal storage: SAKER_STORAGE_* when set (e.g. an S3 bucket), else a temporary folder.
    let storage: Arc<dyn FileStore> = match StorageConfig::from_env()
        .and_then(|config| config.map(|config| config.open()).transpose())
    {
        Ok(Some(storage)) => storage,
        Ok(None) => Arc::new(LocalStorage::new(temp.path())),
        Err(e) => return rejected(format!("internal storage: {e}")),
    };
    let templates = match load_flows(&store, &args.flows).await {
        Ok(templates) => templates,
        Err(message) => return rejected(message),
    };
    // The flow under test is stored too, so it can call itself or be found by triggers.
    let record = match store
        .put_flow(&flow.namespace, &flow.id, &flow.source)
        .await
    {
        Ok(record) => record,
        Err(e) => return rejected(e.to_string()),
    };
    let mut flow = flow;
    flow.revision = Some(record.revision);
    let templates = args.templates.then_some(templates);
    saker_flow::template::expand_templates(&mut flow, templates.as_deref());

    let mut labels = Vec::new();
    for arg in &args.labels {
        match split_pair(arg, "--label") {
            Ok((key, value)) => labels.push(Label::new(key, value)),
            Err(message) => return rejected(message),
        }
    }
    let flow_labels: Vec<Label> = flow
        .labels
        .iter()
        .map(|l| Label::new(&l.key, &l.value))
        .collect();
    let started = std::time::Instant::now();
    let mut execution = Execution::new(
        RandomIds.execution_id(),
        &FlowRef::new(flow.namespace.clone(), flow.id.clone(), record.revision),
        &flow_labels,
        labels,
        saker_runtime::host::now(),
    );
    let raw = match raw_inputs(&args.inputs, &*storage, &execution).await {
        Ok(raw) => raw,
        Err(message) => return rejected(message),
    };
    let (secrets, warnings) = Secrets::from_env();
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let key = match encryption_key(std::env::var(ENCRYPTION_KEY_VAR).ok()) {
        Ok(key) => key,
        Err(message) => return rejected(message),
    };
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut rt = Runtime::new(store, storage, Arc::new(MemoryKvStore::new()))
        .with_secrets(secrets)
        .with_encryption_key(key)
        .with_envs(saker_runtime::envs_from_vars(std::env::vars()))
        .with_max_output_size(args.max_output_size)
        .with_observer(Arc::new(StderrLogs { color }));
    if let Some(templates) = templates {
        rt = rt.with_templates(templates);
    }
    execution.inputs = match rt.resolve_inputs(&flow, &raw) {
        Ok(inputs) => inputs,
        Err(message) => return rejected(message),
    };
    for message in ignored_defaults {
        if let Err(e) = rt.log_execution(&execution, Level::Warn, message).await {
            return rejected(e.to_string());
        }
    }
    let execution = match rt.run(Arc::new(flow), execution).await {
        Ok(execution) => execution,
        Err(e) => {
            eprintln!("error: the run failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let state = execution.state.current();
    let painted = if color {
        let code = match state {
            StateType::Success => "32",
            StateType::Warning | StateType::Paused => "33",
            _ => "31",
        };
        format!("\x1b[1;{code}m{state}\x1b[0m")
    } else {
        state.to_string()
    };
    eprintln!(
        "Execution {} {painted} in {:.3}s, {} task runs",
        execution.id.as_str(),
        started.elapsed().as_secs_f64(),
        execution.task_run_list.len()
    );
    if args.json {
        match serde_json::to_string_pretty(&execution) {
            Ok(text) => {
                let _ = writeln!(std::io::stdout().lock(), "{text}");
            }
            Err(e) => {
                eprintln!("error: cannot serialize the execution: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

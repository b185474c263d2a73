//! `saker flow validate` and `saker flow schema`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};

use saker_flow::{Checked, LoadOptions, Renderer, Severity};

use crate::catalog::catalog;

/// Exit code for bad invocations (as clap uses for its own usage errors).
const USAGE: u8 = 2;

/// Expands folders into their `*.yml`/`*.yaml` files (recursively, sorted).
pub(crate) fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
    Ok(())
}

pub(crate) fn validate(paths: &[PathBuf], as_json: bool) -> ExitCode {
    let files = match collect(paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let color =
        !as_json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let opts = LoadOptions::default();
    let mut all_valid = true;
    let mut results = Vec::new();
    let mut out = std::io::stdout().lock();
    for file in &files {
        let checked: Vec<Checked> = match std::fs::read(file) {
            Ok(bytes) => saker_flow::check_bytes(&bytes, Some(file), catalog(), &opts),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", file.display());
                return ExitCode::from(USAGE);
            }
        };
        for doc in checked {
            let valid = doc.is_valid();
            all_valid &= valid;
            if as_json {
                let mut r = json!({
                    "file": file.display().to_string(),
                    "valid": valid,
                    "diagnostics": saker_flow::diag::to_json(&doc.diagnostics),
                });
                if let Some(f) = &doc.flow {
                    r["flow"] = json!({"namespace": f.namespace, "id": f.id});
                }
                results.push(r);
                continue;
            }
            let renderer = Renderer::new(&doc.source, color);
            let text = if valid {
                let name = doc
                    .flow
                    .as_ref()
                    .map(|f| f.qualified_id())
                    .unwrap_or_default();
                let mark = if color { "\x1b[32m✓\x1b[0m" } else { "✓" };
                let warnings: Vec<_> = doc
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity == Severity::Warning)
                    .cloned()
                    .collect();
                let mut s = format!("{mark} {name}\n");
                if !warnings.is_empty() {
                    s.push_str(&renderer.render_all(&warnings));
                }
                s
            } else {
                let mark = if color { "\x1b[31m✘\x1b[0m" } else { "✘" };
                let shown: Vec<_> = doc
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity != Severity::Info)
                    .cloned()
                    .collect();
                format!(
                    "{mark} {}\n{}\n",
                    file.display(),
                    renderer.render_all(&shown)
                )
            };
            // A closed pipe (`| head`) is not an error worth a panic.
            if out.write_all(text.as_bytes()).is_err() {
                break;
            }
        }
    }
    if as_json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&Value::Array(results)).unwrap_or_default()
        );
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub(crate) fn schema() -> ExitCode {
    let schema = saker_flow::flow_schema(catalog());
    match serde_json::to_string_pretty(&schema) {
        Ok(s) => {
            let _ = writeln!(std::io::stdout().lock(), "{s}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: failed to serialize the schema: {e}");
            ExitCode::from(1)
        }
    }
}

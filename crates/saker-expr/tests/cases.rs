//! Data-driven tests: every `tests/cases/*.yaml` file is a list of cases
//!
//! ```yaml
//! - name: optional label
//!   template: "{{ 1 + 2 }}"
//!   context: {optional: root variables}
//!   output: "3"              # expected rendered string, or
//!   error: "substring"       # expected error (matched against the message with its position)
//!   evaluate: true           # optional: `template` is a bare expression; `output` is its JSON
//! ```
//!
//! All cases run; the test fails with the list of every failing one.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, FixedOffset};
use saker_expr::{Engine, Services, Value};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: Option<String>,
    template: String,
    #[serde(default)]
    context: Option<Value>,
    output: Option<String>,
    error: Option<String>,
    #[serde(default)]
    evaluate: bool,
}

/// Deterministic services for the cases (see the crate's test conventions).
struct TestServices;

impl Services for TestServices {
    fn secret(&self, key: &str) -> Result<String, String> {
        if key == "MY_SECRET" {
            Ok("secretValue".into())
        } else {
            Err(format!("Cannot find secret for key '{key}'."))
        }
    }
    fn kv(&self, namespace: Option<&str>, key: &str) -> Result<Option<Value>, String> {
        Ok(match (namespace, key) {
            (Some("other"), "k2") => Some(serde_json::json!({"a": 1})),
            (Some("other"), _) => None,
            (_, "my_key") => Some(Value::String("kv-value".into())),
            _ => None,
        })
    }
    fn read(&self, path: &str) -> Result<String, String> {
        if path == "data.txt" {
            Ok("file content".into())
        } else {
            Err(format!("Unable to read the file '{path}'"))
        }
    }
    fn file_size(&self, uri: &str) -> Result<Option<u64>, String> {
        Ok((uri == "kestra:///a/b.txt").then_some(12))
    }
    fn now(&self) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z").expect("valid instant")
    }
    fn uuid(&self) -> String {
        "11111111-2222-4333-8444-555555555555".into()
    }
}

fn engine() -> Engine {
    let mut e = Engine::new();
    // The core cases use a few library filters; minimal stand-ins keep them runnable while the
    // library is being written (the library's own versions win when present).
    if !e.has_filter("upper") {
        e.register_filter("upper", |_, v, _| {
            Ok(Value::String(
                saker_expr::to_output_string(v).to_uppercase(),
            ))
        });
    }
    if !e.has_filter("default") {
        e.register_filter("default", |_, v, a| {
            let empty = match v {
                Value::Null => true,
                Value::String(s) => s.trim().is_empty(),
                Value::Array(x) => x.is_empty(),
                Value::Object(m) => m.is_empty(),
                _ => false,
            };
            Ok(if empty {
                a.get(0, "default").cloned().unwrap_or(Value::Null)
            } else {
                v.clone()
            })
        });
    }
    if !e.has_filter("length") {
        e.register_filter("length", |_, v, _| {
            Ok(Value::from(match v {
                Value::Null => 0,
                Value::String(s) => s.chars().count(),
                Value::Array(x) => x.len(),
                Value::Object(m) => m.len(),
                _ => 0,
            }))
        });
    }
    e
}

fn run_case(engine: &Engine, case: &Case) -> Result<String, String> {
    let ctx = case
        .context
        .clone()
        .unwrap_or_else(|| Value::Object(Default::default()));
    if case.evaluate {
        engine
            .evaluate(&case.template, &ctx, &TestServices)
            .map(|v| v.to_string())
            .map_err(|e| e.to_string())
    } else {
        engine
            .render(&case.template, &ctx, &TestServices)
            .map_err(|e| e.to_string())
    }
}

#[test]
fn yaml_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/cases exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let engine = engine();
    let mut failures = String::new();
    let (mut total, mut failed) = (0, 0);
    for file in &files {
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(file).expect("readable case file");
        let cases: Vec<Case> = match serde_saphyr::from_str(&text) {
            Ok(c) => c,
            Err(e) => {
                failed += 1;
                let _ = writeln!(failures, "{name}: cannot parse the case file: {e}");
                continue;
            }
        };
        for (i, case) in cases.iter().enumerate() {
            total += 1;
            let label = case
                .name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            // Catch panics so one bad case cannot hide the others.
            let got =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(&engine, case)));
            let problem = match (got, &case.output, &case.error) {
                (Err(_), _, _) => Some("PANICKED".to_string()),
                (Ok(Ok(out)), Some(want), None) if out == *want => None,
                (Ok(Err(e)), None, Some(want)) if e.contains(want.as_str()) => None,
                (Ok(got), Some(want), None) => {
                    Some(format!("expected output {want:?}, got {got:?}"))
                }
                (Ok(got), None, Some(want)) => Some(format!(
                    "expected an error containing {want:?}, got {got:?}"
                )),
                (Ok(_), _, _) => {
                    Some("a case needs exactly one of `output` or `error`".to_string())
                }
            };
            if let Some(p) = problem {
                failed += 1;
                let _ = writeln!(
                    failures,
                    "{name}[{i}]{label}: template {:?}: {p}",
                    case.template
                );
            }
        }
    }
    assert!(total > 0, "no cases found in {}", dir.display());
    assert!(failed == 0, "{failed} of {total} cases failed:\n{failures}");
    eprintln!("{total} cases passed");
}

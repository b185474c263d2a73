//! Kestra flow documents: parsing with positions, the typed model, validation, diagnostics.
//!
//! Entry points:
//! - [`parse_and_validate`]: one flow document → the typed [`Flow`] or every error found.
//! - [`check_source`] / [`check_bytes`]: every document of a source (multi-document YAML,
//!   invalid UTF-8...), each with its (partial) model and all its diagnostics, warnings included.
//! - [`flow_schema`]: the draft-07 JSON Schema of flow documents.
//! - [`Renderer`]: diagnostics as annotated source snippets.

pub mod catalog;
mod defaults;
pub mod diag;
mod expr;
mod flow;
mod inputs;
pub mod model;
mod schema;
pub mod template;
pub mod testing;
mod validate;
pub mod yaml;

use std::collections::HashSet;
use std::path::Path;

pub use catalog::{Catalog, ParamError, PluginInfo, PluginKind, Slot, TaskKind};
pub use diag::{Diagnostic, Renderer, Severity};
pub use model::*;
pub use schema::flow_schema;
pub use yaml::{LoadOptions, Node, Pos};

use crate::diag::codes;
use crate::validate::Cx;
use crate::yaml::LoadError;

/// The outcome for one document: the model when it could be built (it may still have errors,
/// e.g. a bad expression), and every diagnostic (errors, warnings, infos) sorted by position.
#[derive(Debug, Clone)]
pub struct Checked {
    pub flow: Option<Flow>,
    pub diagnostics: Vec<Diagnostic>,
    /// The whole source text the diagnostics' lines refer to (for [`Renderer`]); the flow's own
    /// document text is [`Flow::source`].
    pub source: String,
}

impl Checked {
    /// Valid = a model and no error (warnings and infos allowed).
    pub fn is_valid(&self) -> bool {
        self.flow.is_some() && !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }
}

/// Parses and validates one flow document. `Ok` only when there is no error; warnings are then
/// dropped (use [`check_source`] to see them). A multi-document source is an error.
pub fn parse_and_validate(
    source: &str,
    file: Option<&Path>,
    catalog: &dyn Catalog,
) -> Result<Flow, Vec<Diagnostic>> {
    let mut docs = check_source(source, file, catalog, &LoadOptions::default());
    if docs.len() != 1 {
        let pos = docs.get(1).and_then(|d| d.flow.as_ref()).map_or(1, |_| 1);
        return Err(vec![Diagnostic {
            code: codes::NOT_A_FLOW,
            severity: Severity::Error,
            file: file.map(Path::to_path_buf),
            path: String::new(),
            line: pos,
            column: 1,
            message: format!("expected one flow document, found {}", docs.len()),
            help: None,
        }]);
    }
    let doc = docs.remove(0);
    if doc.is_valid()
        && let Some(flow) = doc.flow
    {
        return Ok(flow);
    }
    Err(doc
        .diagnostics
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect())
}

/// [`check_source`] over raw bytes: invalid UTF-8 is a diagnostic.
pub fn check_bytes(
    bytes: &[u8],
    file: Option<&Path>,
    catalog: &dyn Catalog,
    opts: &LoadOptions,
) -> Vec<Checked> {
    match yaml::check_utf8(bytes) {
        Ok(source) => check_source(source, file, catalog, opts),
        Err(e) => vec![fatal(e, file, String::from_utf8_lossy(bytes).into_owned())],
    }
}

/// Loads every document of `source` and validates each one.
pub fn check_source(
    source: &str,
    file: Option<&Path>,
    catalog: &dyn Catalog,
    opts: &LoadOptions,
) -> Vec<Checked> {
    let docs = match yaml::load(source, opts) {
        Ok(docs) => docs,
        Err(e) => return vec![fatal(e, file, source.to_string())],
    };
    if docs.is_empty() {
        let e = LoadError {
            code: codes::NOT_A_FLOW,
            pos: Pos { line: 1, column: 1 },
            path: String::new(),
            message: "the document is empty".into(),
            help: Some("a flow needs at least `id`, `namespace` and `tasks`".into()),
        };
        return vec![fatal(e, file, source.to_string())];
    }
    let starts: Vec<u32> = docs.iter().map(|d| d.start_line).collect();
    let multi = docs.len() > 1;
    docs.into_iter()
        .enumerate()
        .map(|(i, doc)| {
            let text = if multi {
                doc_text(source, starts[i], starts.get(i + 1).copied())
            } else {
                source.to_string()
            };
            validate_document(doc, source, text, file, catalog)
        })
        .collect()
}

fn doc_text(source: &str, start: u32, next: Option<u32>) -> String {
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let from = (start as usize).saturating_sub(1).min(lines.len());
    let to = next
        .map_or(lines.len(), |n| (n as usize).saturating_sub(1))
        .clamp(from, lines.len());
    lines[from..to].concat()
}

fn fatal(e: LoadError, file: Option<&Path>, source: String) -> Checked {
    Checked {
        flow: None,
        diagnostics: vec![Diagnostic {
            code: e.code,
            severity: Severity::Error,
            file: file.map(Path::to_path_buf),
            path: e.path,
            line: e.pos.line,
            column: e.pos.column,
            message: e.message,
            help: e.help,
        }],
        source,
    }
}

fn validate_document(
    doc: yaml::Document,
    full_source: &str,
    text: String,
    file: Option<&Path>,
    catalog: &dyn Catalog,
) -> Checked {
    let mut cx = Cx {
        catalog,
        file: file.map(Path::to_path_buf),
        source: full_source,
        diags: Vec::new(),
        task_ids: Vec::new(),
        defaulted: HashSet::new(),
    };
    for e in doc.errors {
        cx.push(Severity::Error, e.code, &e.path, e.pos, e.message, e.help);
    }
    let mut flow = cx.flow(doc.root);
    if let Some(f) = flow.as_mut() {
        f.source = text;
    }
    let mut diagnostics = cx.diags;
    // Same problem found twice (e.g. by the plugin check and by a flow rule): keep one.
    let mut seen = HashSet::new();
    diagnostics.retain(|d| seen.insert((d.path.clone(), d.message.clone(), d.line, d.column)));
    diagnostics.sort_by(|a, b| {
        (a.line, a.column)
            .cmp(&(b.line, b.column))
            .then(a.severity.cmp(&b.severity))
    });
    Checked {
        flow,
        diagnostics,
        source: full_source.to_string(),
    }
}

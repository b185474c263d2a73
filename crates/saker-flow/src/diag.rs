//! Diagnostics: what validation reports, and how it is shown (source snippet or JSON).

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

/// Stable diagnostic codes. Never renumber: tools and docs refer to them.
pub mod codes {
    pub const YAML_SYNTAX: &str = "FLOW0001";
    pub const INVALID_UTF8: &str = "FLOW0002";
    pub const TOO_LARGE: &str = "FLOW0003";
    pub const LIMIT: &str = "FLOW0004";
    pub const DUPLICATE_KEY: &str = "FLOW0005";
    pub const NOT_A_FLOW: &str = "FLOW0006";
    pub const WRONG_TYPE: &str = "FLOW0010";
    pub const MISSING: &str = "FLOW0011";
    pub const UNKNOWN_PROPERTY: &str = "FLOW0012";
    pub const EMPTY: &str = "FLOW0013";
    pub const BAD_ID: &str = "FLOW0014";
    pub const RESERVED_ID: &str = "FLOW0015";
    pub const BAD_VALUE: &str = "FLOW0016";
    pub const DUPLICATE_TASK_ID: &str = "FLOW0020";
    pub const DUPLICATE_TRIGGER_ID: &str = "FLOW0021";
    pub const DUPLICATE_INPUT_ID: &str = "FLOW0022";
    pub const DUPLICATE_OUTPUT_ID: &str = "FLOW0023";
    pub const UNKNOWN_TYPE: &str = "FLOW0030";
    pub const WRONG_KIND: &str = "FLOW0031";
    pub const PLUGIN_PARAM: &str = "FLOW0032";
    pub const MISSING_TYPE: &str = "FLOW0033";
    pub const LEGACY_TYPE: &str = "FLOW0034";
    pub const DAG_UNKNOWN_DEP: &str = "FLOW0040";
    pub const DAG_CYCLE: &str = "FLOW0041";
    pub const FLOWABLE_RULE: &str = "FLOW0042";
    pub const RECURSIVE_FLOW: &str = "FLOW0043";
    pub const INPUT_RULE: &str = "FLOW0050";
    pub const INPUT_BAD_TYPE: &str = "FLOW0051";
    pub const INPUT_VALIDATOR: &str = "FLOW0052";
    pub const INPUT_DEPENDS_ON: &str = "FLOW0053";
    pub const SYSTEM_LABEL: &str = "FLOW0060";
    pub const LABEL: &str = "FLOW0061";
    pub const DASHED_ID_ACCESS: &str = "FLOW0070";
    pub const EXPRESSION: &str = "FLOW0071";
    pub const CRON: &str = "FLOW0080";
    pub const RETRY: &str = "FLOW0081";
    pub const ENTERPRISE_ONLY: &str = "FLOW0082";
    pub const DEPRECATED: &str = "FLOW0090";
    pub const PLUGIN_DEFAULTS: &str = "FLOW0091";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One problem found in a flow document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    pub file: Option<PathBuf>,
    /// Flow path of the offending node (`tasks[2].then[0].type`); empty for the document.
    pub path: String,
    /// 1-based; 0 when unknown.
    pub line: u32,
    pub column: u32,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}:{}:{}: ", file.display(), self.line, self.column)?;
        } else if self.line > 0 {
            write!(f, "{}:{}: ", self.line, self.column)?;
        }
        write!(f, "{}[{}]: ", self.severity.as_str(), self.code)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Renders diagnostics as annotated source snippets, rustc style:
///
/// ```text
/// error[FLOW0012]: tasks[0]: Unrecognized field "mesage" ...
///   --> flows/hello.yaml:6:5
///    |
///  6 |     mesage: hi
///    |     ^ here
///    = help: did you mean `message`?
/// ```
pub struct Renderer<'a> {
    source: &'a str,
    color: bool,
}

impl<'a> Renderer<'a> {
    pub fn new(source: &'a str, color: bool) -> Self {
        Renderer { source, color }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn render(&self, d: &Diagnostic) -> String {
        let mut out = String::new();
        let sev_color = match d.severity {
            Severity::Error => "1;31",
            Severity::Warning => "1;33",
            Severity::Info => "1;36",
        };
        let head = format!("{}[{}]", d.severity.as_str(), d.code);
        let _ = write!(out, "{}: ", self.paint(sev_color, &head));
        if !d.path.is_empty() {
            let _ = write!(out, "{}: ", d.path);
        }
        // The message may end with a newline (Kestra wording); keep one line break at most.
        let _ = writeln!(out, "{}", self.paint("1", d.message.trim_end_matches('\n')));
        let where_ = match (&d.file, d.line) {
            (Some(f), l) if l > 0 => format!("{}:{}:{}", f.display(), d.line, d.column),
            (Some(f), _) => f.display().to_string(),
            (None, l) if l > 0 => format!("{}:{}", d.line, d.column),
            (None, _) => String::new(),
        };
        if !where_.is_empty() {
            let _ = writeln!(out, "  {} {}", self.paint("1;34", "-->"), where_);
        }
        if d.line > 0
            && let Some(text) = self.source.lines().nth(d.line as usize - 1)
        {
            let num = d.line.to_string();
            let gutter = " ".repeat(num.len());
            let bar = self.paint("1;34", "|");
            let _ = writeln!(out, " {gutter} {bar}");
            let _ = writeln!(
                out,
                " {} {bar} {}",
                self.paint("1;34", &num),
                text.trim_end_matches('\r')
            );
            // The caret sits under the column, counting characters (tabs kept as tabs).
            let pad: String = text
                .chars()
                .take(d.column.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, " {gutter} {bar} {pad}{}", self.paint(sev_color, "^"));
        }
        if let Some(help) = &d.help {
            let _ = writeln!(out, "  = {}: {help}", self.paint("1", "help"));
        }
        out
    }

    pub fn render_all(&self, diags: &[Diagnostic]) -> String {
        diags
            .iter()
            .map(|d| self.render(d))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The JSON form of a list of diagnostics.
pub fn to_json(diags: &[Diagnostic]) -> serde_json::Value {
    serde_json::to_value(diags).unwrap_or(serde_json::Value::Null)
}

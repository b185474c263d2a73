//! Kestra's script output protocol (spec §4.7.2): a whole line `::{json}::` on stdout or stderr
//! carries `outputs` (merged into the task's `vars`), `metrics` (counter, timer, gauge, with
//! tags) and `logs` (level and message). Other lines are logged: stdout at INFO, stderr at ERROR.

use std::time::Duration;

use saker_task::log::TaskLogger;
use saker_task::{Level, Metric, MetricValue};
use serde_json::{Map, Value};

use super::process::{Line, Stream};

/// Longest message logged for one output line; longer lines are cut with a note.
pub const MAX_LOGGED_LINE: usize = 64 * 1024;

/// One parsed `::{...}::` message.
#[derive(Debug, Default, PartialEq)]
pub struct Message {
    pub outputs: Map<String, Value>,
    pub metrics: Vec<Metric>,
    pub logs: Vec<(Level, String)>,
    /// Parts that were skipped (unknown metric type, bad value...), to log as warnings.
    pub warnings: Vec<String>,
}

/// `None` when `line` is not a protocol line (`^::(\{.*})::$`); otherwise the message, or why
/// its JSON could not be read.
pub fn parse(line: &str) -> Option<Result<Message, String>> {
    let inner = line.strip_prefix("::")?.strip_suffix("::")?;
    if !(inner.starts_with('{') && inner.ends_with('}')) {
        return None;
    }
    let value: Value = match serde_json::from_str(inner) {
        Ok(value) => value,
        Err(error) => return Some(Err(error.to_string())),
    };
    let Value::Object(object) = value else {
        return Some(Err("expected a JSON object".into()));
    };
    Some(read_message(object))
}

fn read_message(mut object: Map<String, Value>) -> Result<Message, String> {
    let mut message = Message::default();
    match object.remove("outputs") {
        None | Some(Value::Null) => {}
        Some(Value::Object(outputs)) => message.outputs = outputs,
        Some(other) => return Err(format!("`outputs` must be an object, got {other}")),
    }
    match object.remove("metrics") {
        None | Some(Value::Null) => {}
        Some(Value::Array(metrics)) => {
            for metric in metrics {
                match read_metric(&metric) {
                    Ok(metric) => message.metrics.push(metric),
                    Err(why) => message
                        .warnings
                        .push(format!("Invalid metric {metric}: {why}")),
                }
            }
        }
        Some(other) => return Err(format!("`metrics` must be a list, got {other}")),
    }
    match object.remove("logs") {
        None | Some(Value::Null) => {}
        Some(Value::Array(logs)) => {
            for log in logs {
                let level = log.get("level").and_then(Value::as_str).unwrap_or("INFO");
                let text = match log.get("message") {
                    Some(Value::String(text)) => text.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                let level = match level_of(level) {
                    Some(level) => level,
                    None => {
                        message
                            .warnings
                            .push(format!("Invalid log level '{level}'"));
                        Level::Info
                    }
                };
                message.logs.push((level, text));
            }
        }
        Some(other) => return Err(format!("`logs` must be a list, got {other}")),
    }
    Ok(message)
}

/// Java's level names, plus Python's `WARNING`.
fn level_of(name: &str) -> Option<Level> {
    Some(match name.to_ascii_uppercase().as_str() {
        "TRACE" => Level::Trace,
        "DEBUG" => Level::Debug,
        "INFO" => Level::Info,
        "WARN" | "WARNING" => Level::Warn,
        "ERROR" => Level::Error,
        _ => return None,
    })
}

fn read_metric(metric: &Value) -> Result<Metric, String> {
    let name = metric
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or("missing `name`")?;
    let kind = metric
        .get("type")
        .and_then(Value::as_str)
        .ok_or("missing `type`")?;
    let raw = metric.get("value").ok_or("missing `value`")?;
    let value = match kind.to_ascii_lowercase().as_str() {
        "counter" => MetricValue::Counter(number(raw)?),
        "gauge" => MetricValue::Gauge(number(raw)?),
        "timer" => MetricValue::Timer(duration(raw)?),
        other => return Err(format!("unknown metric type '{other}'")),
    };
    let tags = match metric.get("tags") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(tags)) => tags.clone(),
        Some(other) => return Err(format!("`tags` must be an object, got {other}")),
    };
    Ok(Metric {
        name: name.to_owned(),
        value,
        tags,
    })
}

/// A JSON number, or a string holding one (Jackson coerces both into a double).
fn number(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("invalid number {n}")),
        Value::String(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("'{text}' is not a number")),
        other => Err(format!("expected a number, got {other}")),
    }
}

/// A timer value: seconds (a number or numeric string, fraction allowed) or an ISO-8601
/// duration. Negative values (the Python library's timing bug) count as zero.
fn duration(value: &Value) -> Result<Duration, String> {
    let seconds = match value {
        Value::String(text)
            if text.trim_start().starts_with(['P', 'p', '-']) && !is_number(text) =>
        {
            let delta = saker_core::parse_duration(text.trim())
                .map_err(|e| format!("invalid duration '{text}': {e}"))?;
            return Ok(delta.to_std().unwrap_or_default());
        }
        other => number(other)?,
    };
    Ok(Duration::try_from_secs_f64(seconds.max(0.0)).unwrap_or_default())
}

fn is_number(text: &str) -> bool {
    text.trim().parse::<f64>().is_ok()
}

/// Collects what a script reports while it runs: logs its lines, merges `outputs` into
/// `vars`, keeps metrics and counts lines per stream.
pub struct Consumer<'a> {
    logger: &'a TaskLogger,
    /// Legacy `io.kestra.core.tasks.scripts.*`: every line is logged (protocol lines too) and
    /// stderr at WARN, as those tasks did.
    legacy: bool,
    pub vars: Map<String, Value>,
    pub metrics: Vec<Metric>,
    pub stdout_lines: u64,
    pub stderr_lines: u64,
}

impl<'a> Consumer<'a> {
    pub fn new(logger: &'a TaskLogger, legacy: bool) -> Self {
        Consumer {
            logger,
            legacy,
            vars: Map::new(),
            metrics: Vec::new(),
            stdout_lines: 0,
            stderr_lines: 0,
        }
    }

    /// Handles one line of output.
    pub fn accept(&mut self, line: Line) {
        match line.stream {
            Stream::Stdout => self.stdout_lines += 1,
            Stream::Stderr => self.stderr_lines += 1,
        }
        let parsed = if line.dropped == 0 {
            parse(&line.text)
        } else {
            None
        };
        let matched = parsed.is_some();
        match parsed {
            None => {}
            Some(Err(why)) => self.logger.warn(format!("Invalid outputs '{why}'")),
            Some(Ok(message)) => {
                for warning in message.warnings {
                    self.logger.warn(warning);
                }
                self.vars.extend(message.outputs);
                self.metrics.extend(message.metrics);
                for (level, text) in message.logs {
                    self.logger.log(level, text);
                }
            }
        }
        if matched && !self.legacy {
            return;
        }
        let level = match (line.stream, self.legacy) {
            (Stream::Stdout, _) => Level::Info,
            (Stream::Stderr, false) => Level::Error,
            (Stream::Stderr, true) => Level::Warn,
        };
        self.logger.log(level, logged_text(line));
    }
}

/// The text logged for a line: cut at [`MAX_LOGGED_LINE`] bytes with a note saying so.
fn logged_text(line: Line) -> String {
    let total = line.text.len() + line.dropped;
    if total <= MAX_LOGGED_LINE {
        return line.text;
    }
    let mut cut = MAX_LOGGED_LINE;
    while !line.text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut text = line.text;
    text.truncate(cut);
    text.push_str(&format!(
        " … [line truncated: {total} bytes, the first {cut} logged]"
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use saker_task::log::MemoryLogSink;
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    #[test]
    fn recognizes_whole_protocol_lines_only() {
        assert!(parse("hello").is_none());
        assert!(parse(" ::{\"outputs\":{}}::").is_none());
        assert!(parse("::{\"outputs\":{}}:: ").is_none());
        assert!(parse("::[1]::").is_none());
        assert_eq!(parse("::{}::"), Some(Ok(Message::default())));
        let error = parse("::{not json}::").unwrap().unwrap_err();
        assert!(error.contains("key must be a string"), "{error}");
        assert!(parse("::{\"outputs\": [1]}::").unwrap().is_err());
    }

    #[test]
    fn reads_the_python_librarys_messages() {
        // Exactly what `kestra` 0.x prints (json.dumps default separators).
        let m = parse(r#"::{"outputs": {"a": 1, "b": "x"}}::"#)
            .unwrap()
            .unwrap();
        assert_eq!(Value::Object(m.outputs), json!({"a": 1, "b": "x"}));
        let m = parse(
            r#"::{"metrics": [{"name": "rows", "type": "counter", "value": 42, "tags": {"t": "v"}}, {"name": "dur", "type": "timer", "value": 1.5, "tags": {}}, {"name": "g", "type": "gauge", "value": "2.5"}]}::"#,
        )
        .unwrap()
        .unwrap();
        let mut tags = Map::new();
        tags.insert("t".into(), json!("v"));
        assert_eq!(m.metrics[0], Metric::counter("rows", 42.0).with_tags(tags));
        assert_eq!(
            m.metrics[1],
            Metric::timer("dur", Duration::from_millis(1500))
        );
        assert_eq!(m.metrics[2], Metric::gauge("g", 2.5));
        let m = parse(r#"::{"logs": [{"level": "WARNING", "message": "careful"}, {"level": "ERROR", "message": "boom"}]}::"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            m.logs,
            [
                (Level::Warn, "careful".into()),
                (Level::Error, "boom".into())
            ]
        );
    }

    #[test]
    fn timers_take_seconds_iso_durations_and_tolerate_negatives() {
        let timer = |value: Value| {
            let line = format!(
                "::{}::",
                json!({"metrics": [{"name": "t", "type": "timer", "value": value}]})
            );
            parse(&line).unwrap().unwrap().metrics[0].value
        };
        assert_eq!(
            timer(json!("PT1.25S")),
            MetricValue::Timer(Duration::from_millis(1250))
        );
        assert_eq!(
            timer(json!("2")),
            MetricValue::Timer(Duration::from_secs(2))
        );
        assert_eq!(timer(json!(-0.3)), MetricValue::Timer(Duration::ZERO));
        let m = parse(r#"::{"metrics": [{"name": "x", "type": "histogram", "value": 1}, {"name": "c", "type": "counter", "value": 1}]}::"#)
            .unwrap()
            .unwrap();
        assert_eq!(m.metrics.len(), 1);
        assert!(
            m.warnings[0].contains("unknown metric type 'histogram'"),
            "{:?}",
            m.warnings
        );
    }

    fn consumer_lines(
        legacy: bool,
        lines: Vec<Line>,
    ) -> (Vec<String>, Map<String, Value>, u64, u64) {
        let sink = MemoryLogSink::new();
        let clock = Arc::new(saker_task::FixedClock::new(
            saker_core::time::parse_instant("2025-01-06T09:00:00Z").unwrap(),
        ));
        let logger = TaskLogger::new(
            Arc::new(sink.clone()),
            clock,
            Arc::new(Mutex::new(Vec::new())),
        );
        let mut consumer = Consumer::new(&logger, legacy);
        for line in lines {
            consumer.accept(line);
        }
        (
            sink.texts(),
            consumer.vars,
            consumer.stdout_lines,
            consumer.stderr_lines,
        )
    }

    fn out(text: &str) -> Line {
        Line {
            stream: Stream::Stdout,
            text: text.into(),
            dropped: 0,
        }
    }

    fn err(text: &str) -> Line {
        Line {
            stream: Stream::Stderr,
            text: text.into(),
            dropped: 0,
        }
    }

    #[test]
    fn consumer_logs_lines_and_merges_outputs() {
        let (logs, vars, stdout, stderr) = consumer_lines(
            false,
            vec![
                out("plain"),
                out(r#"::{"outputs":{"k":"v","n":1}}::"#),
                err(r#"::{"outputs":{"n":2},"logs":[{"level":"DEBUG","message":"d"}]}::"#),
                err("oops"),
                out("::{bad}::"),
            ],
        );
        assert_eq!(Value::Object(vars), json!({"k": "v", "n": 2}));
        assert_eq!((stdout, stderr), (3, 2));
        assert_eq!(logs[0], "INFO plain");
        assert_eq!(logs[1], "DEBUG d");
        assert_eq!(logs[2], "ERROR oops");
        assert!(logs[3].starts_with("WARN Invalid outputs '"), "{}", logs[3]);
        assert_eq!(logs.len(), 4);
        let (logs, vars, ..) =
            consumer_lines(true, vec![err("e"), out(r#"::{"outputs":{"k":1}}::"#)]);
        assert_eq!(logs, ["WARN e", r#"INFO ::{"outputs":{"k":1}}::"#]);
        assert_eq!(Value::Object(vars), json!({"k": 1}));
    }

    #[test]
    fn long_lines_are_logged_cut_with_a_note() {
        let long = "é".repeat(MAX_LOGGED_LINE);
        let (logs, ..) = consumer_lines(
            false,
            vec![Line {
                stream: Stream::Stdout,
                text: long,
                dropped: 10,
            }],
        );
        let total = 2 * MAX_LOGGED_LINE + 10;
        assert!(
            logs[0].ends_with(&format!(
                "… [line truncated: {total} bytes, the first {MAX_LOGGED_LINE} logged]"
            )),
            "{}",
            &logs[0][logs[0].len() - 80..]
        );
        assert!(logs[0].len() < MAX_LOGGED_LINE + 100);
    }
}

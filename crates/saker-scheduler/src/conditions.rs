//! Evaluation of the core conditions (`io.kestra.plugin.core.condition.*`, spec §5.5) on what a
//! trigger knows: the candidate schedule date (`trigger.date`), the upstream execution of a Flow
//! trigger, or the webhook request variables. `MultipleCondition` keeps state across
//! executions and is handled by [`crate::flow_trigger`], not here.

use chrono::{DateTime, Datelike, FixedOffset, NaiveTime, Timelike, Weekday};
use saker_core::{Execution, StateType};
use saker_expr::{Engine, Services};
use saker_flow::Plugin;
use serde_json::{Map, Value};

use crate::TriggerError;

pub const MULTIPLE: &str = "io.kestra.plugin.core.condition.MultipleCondition";
const P: &str = "io.kestra.plugin.core.condition.";

/// What a condition may look at.
pub struct CondCx<'a> {
    pub engine: &'a Engine,
    pub services: &'a dyn Services,
    /// The variables templates see (`trigger.*`, `flow`, and for Flow triggers the upstream
    /// execution's own variables).
    pub vars: &'a Value,
    /// The flow that owns the trigger.
    pub flow_namespace: &'a str,
    pub flow_id: &'a str,
    /// The upstream execution (Flow triggers).
    pub execution: Option<&'a Execution>,
}

impl CondCx<'_> {
    fn render(&self, template: &str) -> Result<String, TriggerError> {
        self.engine
            .render(template, self.vars, self.services)
            .map_err(|e| TriggerError::Render(e.to_string()))
    }

    fn upstream(&self, type_name: &str) -> Result<&Execution, TriggerError> {
        self.execution.ok_or_else(|| {
            TriggerError::Invalid(format!(
                "condition {type_name} needs an execution and can only be used on a Flow trigger"
            ))
        })
    }
}

/// All conditions hold (AND). `MultipleCondition`s are skipped (stateful, see
/// [`crate::flow_trigger`]).
pub fn all(conditions: &[Plugin], cx: &CondCx<'_>) -> Result<bool, TriggerError> {
    for c in conditions.iter().filter(|c| c.canonical != MULTIPLE) {
        if !check(c, cx)? {
            return Ok(false);
        }
    }
    Ok(true)
}

fn nested(plugin: &Plugin) -> &[Plugin] {
    plugin
        .plugins
        .iter()
        .find(|(slot, _)| slot == "conditions")
        .map_or(&[], |(_, list)| list.as_slice())
}

fn str_param<'p>(plugin: &'p Plugin, key: &str) -> Option<&'p str> {
    plugin.params.get(key).and_then(Value::as_str)
}

fn strings(plugin: &Plugin, key: &str) -> Vec<String> {
    match plugin.params.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn states(plugin: &Plugin, key: &str) -> Result<Vec<StateType>, TriggerError> {
    strings(plugin, key)
        .iter()
        .map(|s| {
            s.parse::<StateType>()
                .map_err(|_| TriggerError::Invalid(format!("unknown state '{s}' in `{key}`")))
        })
        .collect()
}

/// Kestra's `Expression` condition rule: the rendered text, trimmed, is neither blank nor
/// `false`.
pub fn expression_true(rendered: &str) -> bool {
    let t = rendered.trim();
    !t.is_empty() && !t.eq_ignore_ascii_case("false")
}

/// A `{{ trigger.date }}`-like date, rendered and parsed (zoned ISO-8601).
fn date_param(plugin: &Plugin, cx: &CondCx<'_>) -> Result<DateTime<FixedOffset>, TriggerError> {
    let template = str_param(plugin, "date").unwrap_or("{{ trigger.date }}");
    let text = cx.render(template)?;
    parse_zoned(text.trim())
        .ok_or_else(|| TriggerError::Invalid(format!("invalid date '{text}' for condition")))
}

fn parse_zoned(text: &str) -> Option<DateTime<FixedOffset>> {
    // `2025-01-06T09:00+01:00[Europe/Paris]` (Java's ZonedDateTime) or plain RFC 3339.
    let text = text.split('[').next().unwrap_or(text);
    DateTime::parse_from_rfc3339(text)
        .ok()
        .or_else(|| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M%:z").ok())
}

/// Java's `OffsetTime` ordering: the instant on a common day, without wrapping at midnight.
fn offset_time_key(time: NaiveTime, offset_secs: i32) -> i64 {
    i64::from(time.num_seconds_from_midnight()) * 1_000_000_000 + i64::from(time.nanosecond())
        - i64::from(offset_secs) * 1_000_000_000
}

fn parse_offset_time(text: &str, default_offset: i32) -> Option<(NaiveTime, i32)> {
    let text = text.trim();
    let (time, offset) = match text.rfind(['+', '-', 'Z']) {
        Some(i) if i >= 5 => {
            let off = &text[i..];
            let secs = if off == "Z" {
                0
            } else {
                let sign = if off.starts_with('-') { -1 } else { 1 };
                let mut parts = off[1..].split(':');
                let h: i32 = parts.next()?.parse().ok()?;
                let m: i32 = parts.next().unwrap_or("0").parse().ok()?;
                sign * (h * 3600 + m * 60)
            };
            (&text[..i], secs)
        }
        _ => (text, default_offset),
    };
    let t = NaiveTime::parse_from_str(time, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M"))
        .ok()?;
    Some((t, offset))
}

fn weekday(text: &str) -> Result<Weekday, TriggerError> {
    text.parse::<Weekday>()
        .map_err(|_| TriggerError::Invalid(format!("unknown day of week '{text}'")))
}

/// Evaluates one condition.
pub fn check(plugin: &Plugin, cx: &CondCx<'_>) -> Result<bool, TriggerError> {
    let ty = plugin.canonical.strip_prefix(P).unwrap_or(plugin.canonical);
    match ty {
        "Expression" => {
            let template = str_param(plugin, "expression").unwrap_or_default();
            Ok(expression_true(&cx.render(template)?))
        }
        "Not" => {
            for c in nested(plugin) {
                if check(c, cx)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        "Or" => {
            for c in nested(plugin) {
                if check(c, cx)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        "ExecutionStatus" => {
            let state = cx.upstream(ty)?.state.current();
            let inn = states(plugin, "in")?;
            let not_in = states(plugin, "notIn")?;
            Ok((inn.is_empty() || inn.contains(&state)) && !not_in.contains(&state))
        }
        "ExecutionFlow" => {
            let e = cx.upstream(ty)?;
            Ok(str_param(plugin, "namespace") == Some(e.namespace.as_str())
                && str_param(plugin, "flowId") == Some(e.flow_id.as_str()))
        }
        "ExecutionNamespace" => {
            let e = cx.upstream(ty)?;
            let wanted = str_param(plugin, "namespace").unwrap_or_default();
            let prefix = plugin.params.get("prefix").and_then(Value::as_bool) == Some(true);
            let comparison =
                str_param(plugin, "comparison").unwrap_or(if prefix { "PREFIX" } else { "EQUALS" });
            Ok(match comparison {
                "PREFIX" => e.namespace.starts_with(wanted),
                "SUFFIX" => e.namespace.ends_with(wanted),
                _ => e.namespace == wanted,
            })
        }
        "ExecutionLabels" => {
            let e = cx.upstream(ty)?;
            Ok(labels_of(plugin.params.get("labels"))
                .iter()
                .all(|(k, v)| e.labels.iter().any(|l| &l.key == k && &l.value == v)))
        }
        "ExecutionOutputs" => {
            let e = cx.upstream(ty)?;
            if e.outputs.is_empty() {
                return Ok(false);
            }
            let template = str_param(plugin, "expression").unwrap_or_default();
            Ok(expression_true(&cx.render(template)?))
        }
        "HasRetryAttempt" => {
            let e = cx.upstream(ty)?;
            let inn = states(plugin, "in")?;
            let not_in = states(plugin, "notIn")?;
            Ok(e.task_run_list.iter().any(|run| {
                run.attempts.len() > 1
                    && run.attempts.iter().any(|a| {
                        let s = a.state.current();
                        (inn.is_empty() || inn.contains(&s)) && !not_in.contains(&s)
                    })
            }))
        }
        // Legacy: these named the flow an execution belongs to (used inside
        // MultipleCondition on Flow triggers), so they test the upstream execution when there
        // is one and the trigger's own flow otherwise.
        "FlowCondition" | "FlowNamespaceCondition" => {
            let (ns, id) = match cx.execution {
                Some(e) => (e.namespace.as_str(), e.flow_id.as_str()),
                None => (cx.flow_namespace, cx.flow_id),
            };
            let wanted = str_param(plugin, "namespace").unwrap_or_default();
            if ty == "FlowCondition" {
                Ok(ns == wanted && str_param(plugin, "flowId") == Some(id))
            } else if plugin.params.get("prefix").and_then(Value::as_bool) == Some(true) {
                Ok(ns.starts_with(wanted))
            } else {
                Ok(ns == wanted)
            }
        }
        "DateTimeBetween" => {
            let date = date_param(plugin, cx)?;
            let bound = |key: &str| -> Result<Option<DateTime<FixedOffset>>, TriggerError> {
                match str_param(plugin, key) {
                    None => Ok(None),
                    Some(t) => {
                        let text = cx.render(t)?;
                        parse_zoned(text.trim()).map(Some).ok_or_else(|| {
                            TriggerError::Invalid(format!("invalid `{key}` date '{text}'"))
                        })
                    }
                }
            };
            Ok(bound("after")?.is_none_or(|a| date > a)
                && bound("before")?.is_none_or(|b| date < b))
        }
        "TimeBetween" => {
            let date = date_param(plugin, cx)?;
            let offset = date.offset().local_minus_utc();
            let key = offset_time_key(date.time(), offset);
            let bound = |k: &str| -> Result<Option<i64>, TriggerError> {
                match str_param(plugin, k) {
                    None => Ok(None),
                    Some(t) => {
                        let text = cx.render(t)?;
                        parse_offset_time(&text, offset)
                            .map(|(t, o)| Some(offset_time_key(t, o)))
                            .ok_or_else(|| {
                                TriggerError::Invalid(format!("invalid `{k}` time '{text}'"))
                            })
                    }
                }
            };
            Ok(bound("after")?.is_none_or(|a| key > a) && bound("before")?.is_none_or(|b| key < b))
        }
        "DayWeek" => {
            let date = date_param(plugin, cx)?;
            let day = weekday(&cx.render(str_param(plugin, "dayOfWeek").unwrap_or_default())?)?;
            Ok(date.weekday() == day)
        }
        "DayWeekInMonth" => {
            let date = date_param(plugin, cx)?;
            let day = weekday(&cx.render(str_param(plugin, "dayOfWeek").unwrap_or_default())?)?;
            let which = cx.render(str_param(plugin, "dayInMonth").unwrap_or_default())?;
            if date.weekday() != day {
                return Ok(false);
            }
            let dom = date.day();
            Ok(match which.as_str() {
                "FIRST" => dom <= 7,
                "SECOND" => (8..=14).contains(&dom),
                "THIRD" => (15..=21).contains(&dom),
                "FOURTH" => (22..=28).contains(&dom),
                "LAST" => dom + 7 > days_in_month(date.year(), date.month()),
                other => {
                    return Err(TriggerError::Invalid(format!(
                        "unknown dayInMonth '{other}' (FIRST, SECOND, THIRD, FOURTH or LAST)"
                    )));
                }
            })
        }
        "Weekend" => {
            let date = date_param(plugin, cx)?;
            Ok(matches!(date.weekday(), Weekday::Sat | Weekday::Sun))
        }
        _ => Err(TriggerError::Unsupported(format!(
            "condition {} is not supported by this scheduler",
            plugin.type_name
        ))),
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    chrono::NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day())
}

/// Labels given as a map or as a `[{key, value}]` list.
pub fn labels_of(value: Option<&Value>) -> Vec<(String, String)> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match value {
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|it| {
                let key = it.get("key")?.as_str()?;
                Some((
                    key.to_owned(),
                    it.get("value").map(text).unwrap_or_default(),
                ))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `{"trigger": vars}` merged over `base` (the variables conditions and inputs render with).
pub fn with_trigger(base: &Value, trigger_vars: &Map<String, Value>) -> Value {
    let mut out = match base {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    out.insert("trigger".into(), Value::Object(trigger_vars.clone()));
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(crate) fn plugin(ty: &str, params: Value) -> Plugin {
        Plugin {
            type_name: format!("{P}{ty}"),
            canonical: Box::leak(format!("{P}{ty}").into_boxed_str()),
            kind: saker_flow::PluginKind::Condition,
            params: params.as_object().cloned().unwrap_or_default(),
            plugins: Vec::new(),
            path: "c".into(),
        }
    }

    fn eval(p: &Plugin, date: &str) -> bool {
        let engine = Engine::new();
        let vars = json!({"trigger": {"date": date}});
        let cx = CondCx {
            engine: &engine,
            services: &saker_expr::NoServices,
            vars: &vars,
            flow_namespace: "ns",
            flow_id: "f",
            execution: None,
        };
        check(p, &cx).unwrap()
    }

    #[test]
    fn date_conditions() {
        let fourth_thu = "2025-01-23T10:00:00+01:00";
        let p = plugin(
            "DayWeekInMonth",
            json!({"dayOfWeek": "THURSDAY", "dayInMonth": "FOURTH"}),
        );
        assert!(eval(&p, fourth_thu));
        assert!(!eval(&p, "2025-01-16T10:00:00+01:00"));
        let last = plugin(
            "DayWeekInMonth",
            json!({"dayOfWeek": "FRIDAY", "dayInMonth": "LAST"}),
        );
        assert!(eval(&last, "2025-01-31T10:00:00Z"));
        assert!(!eval(&last, "2025-01-24T10:00:00Z"));
        let p = plugin("DayWeek", json!({"dayOfWeek": "MONDAY"}));
        assert!(eval(&p, "2025-01-06T00:30:00+01:00"));
        // The date's own offset decides the day.
        assert!(!eval(&p, "2025-01-05T23:30:00Z"));
        assert!(eval(&plugin("Weekend", json!({})), "2025-01-05T10:00:00Z"));
        assert!(!eval(&plugin("Weekend", json!({})), "2025-01-06T10:00:00Z"));
        let between = plugin(
            "DateTimeBetween",
            json!({"after": "2025-01-01T00:00:00Z", "before": "2025-02-01T00:00:00+01:00"}),
        );
        assert!(eval(&between, "2025-01-31T22:00:00Z"));
        assert!(!eval(&between, "2025-01-31T23:30:00Z"));
        let time = plugin(
            "TimeBetween",
            json!({"after": "08:00:00+01:00", "before": "18:00:00+01:00"}),
        );
        assert!(eval(&time, "2025-01-06T09:00:00+01:00"));
        assert!(eval(&time, "2025-01-06T08:30:00Z"));
        assert!(!eval(&time, "2025-01-06T17:30:00Z"));
        let mut not = plugin("Not", json!({}));
        not.plugins = vec![("conditions".into(), vec![plugin("Weekend", json!({}))])];
        assert!(eval(&not, "2025-01-06T10:00:00Z"));
        let mut or = plugin("Or", json!({}));
        or.plugins = vec![(
            "conditions".into(),
            vec![
                plugin("Weekend", json!({})),
                plugin("DayWeek", json!({"dayOfWeek": "MONDAY"})),
            ],
        )];
        assert!(eval(&or, "2025-01-06T10:00:00Z"));
        assert!(!eval(&or, "2025-01-07T10:00:00Z"));
    }

    #[test]
    fn expression_rule_is_not_blank_and_not_false() {
        assert!(expression_true("0"));
        assert!(expression_true(" true "));
        assert!(!expression_true(" false"));
        assert!(!expression_true("  "));
        let p = plugin(
            "Expression",
            json!({"expression": "{{ trigger.date is defined }}"}),
        );
        assert!(eval(&p, "2025-01-06T10:00:00Z"));
    }

    #[test]
    fn unknown_conditions_are_an_error_users_can_read() {
        let engine = Engine::new();
        let vars = json!({});
        let cx = CondCx {
            engine: &engine,
            services: &saker_expr::NoServices,
            vars: &vars,
            flow_namespace: "ns",
            flow_id: "f",
            execution: None,
        };
        let err = check(&plugin("PublicHoliday", json!({})), &cx).unwrap_err();
        assert!(
            err.to_string().contains("PublicHoliday is not supported"),
            "{err}"
        );
        let err = check(&plugin("ExecutionStatus", json!({"in": ["SUCCESS"]})), &cx).unwrap_err();
        assert!(
            err.to_string().contains("only be used on a Flow trigger"),
            "{err}"
        );
    }
}

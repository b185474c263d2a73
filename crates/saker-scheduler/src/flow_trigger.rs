//! The Flow trigger (spec §5.3): which execution state changes fire which triggers.
//!
//! Stateless part: the upstream state must be in `states` and every plain condition must hold.
//! Stateful part: each `MultipleCondition` and the `preconditions` remember, inside a time
//! window, which of their named sub-conditions were satisfied; the trigger fires once all were.
//! Windows are kept per trigger (in `TriggerRecord.context.windows`, keyed by the condition
//! id), reused while `now` is inside them and replaced by a fresh one otherwise.

use std::collections::BTreeMap;

use chrono::{NaiveTime, TimeDelta, Timelike};
use saker_core::{Execution, Instant, Label, StateType, label};
use saker_expr::{Engine, Services};
use saker_flow::{Plugin, Trigger};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::TriggerError;
use crate::conditions::{self, CondCx, MULTIPLE, labels_of};

/// Kestra's default `states`: the terminal states and `PAUSED`.
pub const DEFAULT_STATES: [StateType; 8] = [
    StateType::Failed,
    StateType::Warning,
    StateType::Success,
    StateType::Killed,
    StateType::Cancelled,
    StateType::Retried,
    StateType::Skipped,
    StateType::Paused,
];

/// Kinds of time window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    Duration,
    Sliding,
    DailyDeadline,
    DailyWindow,
}

/// A time window definition.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSpec {
    pub kind: WindowKind,
    pub window: TimeDelta,
    pub advance: Option<TimeDelta>,
    pub deadline: Option<NaiveTime>,
    pub start_time: Option<NaiveTime>,
    pub end_time: Option<NaiveTime>,
}

impl WindowSpec {
    fn parse(
        value: Option<&Value>,
        legacy: &Map<String, Value>,
    ) -> Result<WindowSpec, TriggerError> {
        let get = |k: &str| {
            value
                .and_then(|v| v.get(k))
                .or_else(|| legacy.get(k))
                .and_then(Value::as_str)
        };
        let dur = |k: &str| -> Result<Option<TimeDelta>, TriggerError> {
            get(k)
                .map(|t| {
                    saker_core::parse_duration(t)
                        .map_err(|e| TriggerError::Invalid(format!("invalid `{k}`: {e}")))
                })
                .transpose()
        };
        let time = |k: &str| -> Result<Option<NaiveTime>, TriggerError> {
            get(k)
                .map(|t| {
                    NaiveTime::parse_from_str(t, "%H:%M:%S%.f")
                        .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M"))
                        .map_err(|_| TriggerError::Invalid(format!("invalid `{k}` time '{t}'")))
                })
                .transpose()
        };
        let kind = match get("type").unwrap_or("DURATION_WINDOW") {
            "DURATION_WINDOW" => WindowKind::Duration,
            "SLIDING_WINDOW" => WindowKind::Sliding,
            "DAILY_TIME_DEADLINE" => WindowKind::DailyDeadline,
            "DAILY_TIME_WINDOW" => WindowKind::DailyWindow,
            other => {
                return Err(TriggerError::Invalid(format!(
                    "unknown time window type '{other}'"
                )));
            }
        };
        let spec = WindowSpec {
            kind,
            window: dur("window")?.unwrap_or(TimeDelta::days(1)),
            advance: dur("windowAdvance")?,
            deadline: time("deadline")?,
            start_time: time("startTime")?,
            end_time: time("endTime")?,
        };
        match kind {
            WindowKind::DailyDeadline if spec.deadline.is_none() => Err(TriggerError::Invalid(
                "a DAILY_TIME_DEADLINE window needs a `deadline`".into(),
            )),
            WindowKind::DailyWindow if spec.start_time.is_none() || spec.end_time.is_none() => Err(
                TriggerError::Invalid("a DAILY_TIME_WINDOW needs `startTime` and `endTime`".into()),
            ),
            _ => Ok(spec),
        }
    }

    /// The window a new evaluation at `now` opens (Kestra's rules, in UTC).
    pub fn bounds(&self, now: Instant) -> (Instant, Instant) {
        let midnight = now
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc();
        let at =
            |t: NaiveTime| midnight + TimeDelta::seconds(i64::from(t.num_seconds_from_midnight()));
        match self.kind {
            WindowKind::Duration => {
                // Aligned: a window of days starts at midnight, of hours at the hour, of
                // minutes on a multiple of its minutes within the hour.
                let mut start = now.with_nanosecond(0).expect("valid");
                if self.window.num_days() > 0 {
                    start = midnight;
                } else if self.window.num_hours() > 0 {
                    start = start
                        .with_minute(0)
                        .and_then(|s| s.with_second(0))
                        .expect("valid");
                } else if self.window.num_minutes() > 0 {
                    let step = self.window.num_minutes();
                    let minute = i64::from(start.minute()) / step * step;
                    start = start
                        .with_minute(0)
                        .and_then(|s| s.with_second(0))
                        .expect("valid")
                        + TimeDelta::minutes(minute);
                }
                let start = start + self.advance.unwrap_or_default();
                (start, start + self.window - TimeDelta::milliseconds(1))
            }
            WindowKind::Sliding => (now, now + self.window),
            WindowKind::DailyDeadline => (midnight, at(self.deadline.expect("checked at parse"))),
            WindowKind::DailyWindow => (
                at(self.start_time.expect("checked at parse")),
                at(self.end_time.expect("checked at parse")),
            ),
        }
    }
}

/// What a window remembers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowState {
    #[serde(with = "saker_core::time::iso")]
    pub start: Instant,
    #[serde(with = "saker_core::time::iso")]
    pub end: Instant,
    /// Sub-condition name → satisfied.
    pub results: BTreeMap<String, bool>,
    /// Outputs of the executions that satisfied a sub-condition, merged.
    #[serde(default)]
    pub outputs: Map<String, Value>,
}

impl WindowState {
    fn valid(&self, now: Instant) -> bool {
        self.start <= now && now <= self.end
    }
}

/// A sub-condition of a window.
#[derive(Debug, Clone)]
enum Sub {
    Plugin(Plugin),
    Upstream {
        namespace: String,
        flow_id: String,
        states: Vec<StateType>,
        labels: Vec<(String, String)>,
    },
    Where {
        and: bool,
        filters: Vec<Value>,
    },
}

/// A `MultipleCondition` or the `preconditions` of a trigger.
#[derive(Debug, Clone)]
pub struct Multiple {
    pub id: String,
    pub window: WindowSpec,
    pub reset_on_success: bool,
    subs: Vec<(String, Sub)>,
}

/// A Flow trigger's definition, typed.
#[derive(Debug, Clone)]
pub struct FlowTriggerSpec {
    pub trigger_id: String,
    pub states: Vec<StateType>,
    pub conditions: Vec<Plugin>,
    pub multiples: Vec<Multiple>,
    pub inputs: Map<String, Value>,
    pub labels: Vec<Label>,
    pub disabled: bool,
}

fn bool_param(v: Option<&Value>, default: bool) -> bool {
    v.and_then(Value::as_bool).unwrap_or(default)
}

fn parse_states(v: Option<&Value>) -> Result<Option<Vec<StateType>>, TriggerError> {
    let Some(Value::Array(items)) = v else {
        return Ok(None);
    };
    items
        .iter()
        .map(|s| {
            let text = s.as_str().unwrap_or_default();
            text.parse::<StateType>()
                .map_err(|_| TriggerError::Invalid(format!("unknown state '{text}'")))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

impl FlowTriggerSpec {
    pub fn from_trigger(trigger: &Trigger) -> Result<FlowTriggerSpec, TriggerError> {
        let p = &trigger.params;
        let states = parse_states(p.get("states"))?.unwrap_or_else(|| DEFAULT_STATES.to_vec());
        let mut multiples = Vec::new();
        for c in trigger
            .conditions
            .iter()
            .filter(|c| c.canonical == MULTIPLE)
        {
            let id = c
                .params
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or("multiple")
                .to_owned();
            let window = WindowSpec::parse(c.params.get("timeWindow"), &c.params)?;
            let subs = c
                .plugins
                .iter()
                .filter(|(slot, _)| slot == "conditions")
                .flat_map(|(_, list)| list.iter())
                .map(|sub| {
                    // Named by their key in the `conditions` map (the path's last segment).
                    let name = sub.path.rsplit(['.', '[']).next().unwrap_or(&sub.path);
                    (
                        name.trim_end_matches([']', '"', '\'']).to_owned(),
                        Sub::Plugin(sub.clone()),
                    )
                })
                .collect();
            multiples.push(Multiple {
                id,
                window,
                reset_on_success: bool_param(c.params.get("resetOnSuccess"), true),
                subs,
            });
        }
        if let Some(pre) = p.get("preconditions").and_then(Value::as_object) {
            let mut subs = Vec::new();
            if let Some(Value::Array(flows)) = pre.get("flows") {
                for (i, f) in flows.iter().enumerate() {
                    subs.push((
                        format!("condition_{i}"),
                        Sub::Upstream {
                            namespace: f
                                .get("namespace")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                            flow_id: f
                                .get("flowId")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned(),
                            states: parse_states(f.get("states"))?
                                .unwrap_or_else(|| vec![StateType::Success]),
                            labels: labels_of(f.get("labels")),
                        },
                    ));
                }
            }
            if let Some(Value::Array(wheres)) = pre.get("where") {
                let offset = subs.len();
                for (j, w) in wheres.iter().enumerate() {
                    let id = w.get("id").and_then(Value::as_str).unwrap_or_default();
                    subs.push((
                        format!("condition_{}_{id}", offset + j),
                        Sub::Where {
                            and: w.get("operand").and_then(Value::as_str) != Some("OR"),
                            filters: w
                                .get("filters")
                                .and_then(Value::as_array)
                                .cloned()
                                .unwrap_or_default(),
                        },
                    ));
                }
            }
            multiples.push(Multiple {
                id: pre
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("preconditions")
                    .to_owned(),
                window: WindowSpec::parse(pre.get("timeWindow"), &Map::new())?,
                reset_on_success: bool_param(pre.get("resetOnSuccess"), true),
                subs,
            });
        }
        Ok(FlowTriggerSpec {
            trigger_id: trigger.id.clone(),
            states,
            conditions: trigger
                .conditions
                .iter()
                .filter(|c| c.canonical != MULTIPLE)
                .cloned()
                .collect(),
            multiples,
            inputs: p
                .get("inputs")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            labels: trigger
                .labels
                .iter()
                .map(|l| Label::new(&l.key, &l.value))
                .collect(),
            disabled: trigger.disabled,
        })
    }

    /// Evaluates the trigger for one state change of `cx.execution` at `now`, updating the
    /// windows. Returns the `trigger.*` variables of the execution to create, if it fires.
    pub fn evaluate(
        &self,
        cx: &CondCx<'_>,
        windows: &mut BTreeMap<String, WindowState>,
        now: Instant,
    ) -> Result<Option<Map<String, Value>>, TriggerError> {
        let upstream = cx
            .execution
            .ok_or_else(|| TriggerError::Invalid("a Flow trigger needs an execution".into()))?;
        // No self-trigger, no test executions.
        if (upstream.namespace == cx.flow_namespace && upstream.flow_id == cx.flow_id)
            || upstream
                .labels
                .iter()
                .any(|l| l.key == label::TEST && l.value == "true")
        {
            return Ok(None);
        }
        if !self.states.contains(&upstream.state.current())
            || !conditions::all(&self.conditions, cx)?
        {
            return Ok(None);
        }
        let mut outputs = upstream.outputs.clone();
        let mut failure: Option<TriggerError> = None;
        for multiple in &self.multiples {
            // Expired windows are dropped; a new one opens at `now`.
            let mut window = match windows.remove(&multiple.id) {
                Some(w) if w.valid(now) => w,
                _ => {
                    let (start, end) = multiple.window.bounds(now);
                    WindowState {
                        start,
                        end,
                        results: BTreeMap::new(),
                        outputs: Map::new(),
                    }
                }
            };
            let mut matched_any = false;
            for (name, sub) in &multiple.subs {
                // A sub-condition that cannot be evaluated on this execution is not satisfied
                // (as in Kestra, which logs it): the window keeps what others satisfied.
                match check_sub(sub, cx, upstream) {
                    Ok(true) => {
                        window.results.insert(name.clone(), true);
                        matched_any = true;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                }
            }
            if matched_any {
                window.outputs.extend(upstream.outputs.clone());
            }
            let complete = multiple
                .subs
                .iter()
                .all(|(name, _)| window.results.get(name).copied().unwrap_or(false));
            if complete {
                outputs = window.outputs.clone();
                outputs.extend(upstream.outputs.clone());
                if !multiple.reset_on_success {
                    windows.insert(multiple.id.clone(), window);
                }
            } else {
                windows.insert(multiple.id.clone(), window);
                return failure.map_or(Ok(None), Err);
            }
        }
        Ok(Some(trigger_variables(upstream, outputs)))
    }
}

/// `trigger.*` of an execution created by a Flow trigger.
pub fn trigger_variables(upstream: &Execution, outputs: Map<String, Value>) -> Map<String, Value> {
    let mut vars = Map::new();
    vars.insert(
        "executionId".into(),
        Value::String(upstream.id.as_str().to_owned()),
    );
    vars.insert(
        "namespace".into(),
        Value::String(upstream.namespace.clone()),
    );
    vars.insert("flowId".into(), Value::String(upstream.flow_id.clone()));
    vars.insert("flowRevision".into(), Value::from(upstream.flow_revision));
    vars.insert(
        "state".into(),
        Value::String(upstream.state.current().as_str().to_owned()),
    );
    let labels: Vec<Label> = upstream
        .labels
        .iter()
        .filter(|l| l.key != label::CORRELATION_ID)
        .cloned()
        .collect();
    if !labels.is_empty() {
        vars.insert(
            "executionLabels".into(),
            Value::Object(label::labels_to_nested_map(&labels)),
        );
    }
    if !outputs.is_empty() {
        vars.insert("outputs".into(), Value::Object(outputs));
    }
    vars
}

/// Labels of the created execution: the trigger's, plus the upstream correlation id.
pub fn created_labels(spec_labels: &[Label], upstream: &Execution) -> Vec<Label> {
    let mut labels = spec_labels.to_vec();
    if let Some(c) = upstream
        .labels
        .iter()
        .find(|l| l.key == label::CORRELATION_ID)
    {
        labels.push(c.clone());
    }
    labels
}

fn check_sub(sub: &Sub, cx: &CondCx<'_>, upstream: &Execution) -> Result<bool, TriggerError> {
    match sub {
        Sub::Plugin(p) => conditions::check(p, cx),
        Sub::Upstream {
            namespace,
            flow_id,
            states,
            labels,
        } => Ok(upstream.namespace == *namespace
            && upstream.flow_id == *flow_id
            && states.contains(&upstream.state.current())
            && labels
                .iter()
                .all(|(k, v)| upstream.labels.iter().any(|l| &l.key == k && &l.value == v))),
        // Short-circuits like Kestra's (`allMatch`/`anyMatch`): an EXPRESSION after a false
        // FLOW_ID filter is not rendered on executions it does not concern.
        Sub::Where { and, filters } => {
            for f in filters {
                if check_filter(f, cx, upstream)? != *and {
                    return Ok(!*and);
                }
            }
            Ok(*and)
        }
    }
}

fn check_filter(
    filter: &Value,
    cx: &CondCx<'_>,
    upstream: &Execution,
) -> Result<bool, TriggerError> {
    let field = filter
        .get("field")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ty = filter
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value = filter.get("value").and_then(Value::as_str);
    let values: Vec<&str> = filter
        .get("values")
        .and_then(Value::as_array)
        .map(|v| v.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let actual: Option<String> = match field {
        "FLOW_ID" => Some(upstream.flow_id.clone()),
        "NAMESPACE" => Some(upstream.namespace.clone()),
        "STATE" => Some(upstream.state.current().as_str().to_owned()),
        // The expression itself is what is tested (rendered on the upstream execution).
        "EXPRESSION" => {
            let rendered = cx
                .engine
                .render(value.unwrap_or_default(), cx.vars, cx.services)
                .map_err(|e| TriggerError::Render(e.to_string()))?;
            return Ok(match ty {
                "IS_TRUE" => rendered.trim() == "true",
                "IS_FALSE" => rendered.trim() == "false",
                "IS_NULL" => rendered.trim().is_empty(),
                "IS_NOT_NULL" => !rendered.trim().is_empty(),
                _ => conditions::expression_true(&rendered),
            });
        }
        other => {
            return Err(TriggerError::Invalid(format!(
                "unknown filter field '{other}'"
            )));
        }
    };
    let a = actual.as_deref();
    let v = value.unwrap_or_default();
    Ok(match ty {
        "EQUAL_TO" => a == Some(v),
        "NOT_EQUAL_TO" => a != Some(v),
        "IN" => a.is_some_and(|a| values.contains(&a) || a == v),
        "NOT_IN" => a.is_none_or(|a| !values.contains(&a) && a != v),
        "IS_NULL" => a.is_none(),
        "IS_NOT_NULL" => a.is_some(),
        "IS_TRUE" => a == Some("true"),
        "IS_FALSE" => a == Some("false"),
        "STARTS_WITH" => a.is_some_and(|a| a.starts_with(v)),
        "ENDS_WITH" => a.is_some_and(|a| a.ends_with(v)),
        "CONTAINS" => a.is_some_and(|a| a.contains(v)),
        "REGEX" => {
            let re = regex::Regex::new(v)
                .map_err(|e| TriggerError::Invalid(format!("invalid regex '{v}': {e}")))?;
            a.is_some_and(|a| re.is_match(a))
        }
        other => {
            return Err(TriggerError::Invalid(format!(
                "unknown filter type '{other}'"
            )));
        }
    })
}

/// Renders a trigger's inputs with `vars`.
pub fn render_inputs(
    inputs: &Map<String, Value>,
    engine: &Engine,
    vars: &Value,
    services: &dyn Services,
) -> Result<Map<String, Value>, TriggerError> {
    match engine.render_value(&Value::Object(inputs.clone()), vars, services) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Ok(Map::new()),
        Err(e) => Err(TriggerError::Render(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saker_core::time::parse_instant;

    fn at(s: &str) -> Instant {
        parse_instant(s).unwrap()
    }

    fn window(json: Value) -> WindowSpec {
        WindowSpec::parse(Some(&json), &Map::new()).unwrap()
    }

    #[test]
    fn window_bounds_follow_kestra() {
        let now = at("2025-01-06T10:17:42Z");
        let day = window(serde_json::json!({"type": "DURATION_WINDOW", "window": "P1D"}));
        assert_eq!(
            day.bounds(now),
            (at("2025-01-06T00:00:00Z"), at("2025-01-06T23:59:59.999Z"))
        );
        let quarter = window(serde_json::json!({"window": "PT15M"}));
        assert_eq!(
            quarter.bounds(now),
            (at("2025-01-06T10:15:00Z"), at("2025-01-06T10:29:59.999Z"))
        );
        let shifted = window(serde_json::json!({"window": "P1D", "windowAdvance": "PT6H"}));
        assert_eq!(shifted.bounds(now).0, at("2025-01-06T06:00:00Z"));
        let sliding = window(serde_json::json!({"type": "SLIDING_WINDOW", "window": "PT1H"}));
        assert_eq!(sliding.bounds(now), (now, at("2025-01-06T11:17:42Z")));
        let deadline =
            window(serde_json::json!({"type": "DAILY_TIME_DEADLINE", "deadline": "09:00:00"}));
        assert_eq!(
            deadline.bounds(now),
            (at("2025-01-06T00:00:00Z"), at("2025-01-06T09:00:00Z"))
        );
        let daily = window(
            serde_json::json!({"type": "DAILY_TIME_WINDOW", "startTime": "06:00:00", "endTime": "12:00:00"}),
        );
        assert_eq!(
            daily.bounds(now),
            (at("2025-01-06T06:00:00Z"), at("2025-01-06T12:00:00Z"))
        );
        assert!(
            WindowSpec::parse(
                Some(&serde_json::json!({"type": "DAILY_TIME_DEADLINE"})),
                &Map::new()
            )
            .is_err()
        );
    }
}

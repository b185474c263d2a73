//! The Schedule trigger as a pure state machine (spec §5.2).
//!
//! What is persisted per trigger ([`saker_storage::TriggerRecord`]): `next_execution_date`, the
//! next tick to fire, and in `context` a [`ScheduleState`] (last fired tick, the execution it
//! started while it runs, the tick being launched, the backfill). Every decision is a function
//! of that state, the trigger definition and `now`, so a restart replays nothing and loses
//! nothing: the state is committed before the execution is launched and the launch is looked up
//! again after a crash.

use chrono::TimeDelta;
use saker_core::{Instant, Label, StateType};
use saker_flow::{Plugin, Trigger};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::TriggerError;
use crate::conditions::labels_of;
use crate::cron::Cron;

/// Kestra's `recoverMissedSchedules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum Recover {
    /// One execution per missed tick (Kestra's default).
    #[default]
    All,
    /// Only the most recent missed tick.
    Last,
    /// Skip to the next future tick.
    None,
}

/// Upper bound of a forward/backward search for a tick satisfying the conditions (Kestra
/// searches ten years; a per-minute cron would need five million evaluations for that).
const MAX_CANDIDATES: usize = 200_000;
const MAX_YEARS: i64 = 10;

/// A Schedule trigger's definition, typed.
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    pub trigger_id: String,
    pub cron: Cron,
    /// `conditions` then the deprecated `scheduleConditions`.
    pub conditions: Vec<Plugin>,
    /// Raw (rendered by the caller before launching).
    pub inputs: Map<String, Value>,
    pub labels: Vec<Label>,
    pub late_maximum_delay: Option<TimeDelta>,
    pub recover: Recover,
    pub stop_after: Vec<StateType>,
    pub disabled: bool,
    /// Identifies the definition's timing (cron, zone, seconds): when it changes, the stored
    /// next date is recomputed.
    pub fingerprint: String,
}

/// What a schedule condition check answers for a candidate tick.
pub type Accepts<'a> = dyn Fn(Instant) -> Result<bool, TriggerError> + 'a;

impl ScheduleSpec {
    /// Reads a Schedule trigger. `default_recover` is the server's setting (Kestra: `ALL`).
    pub fn from_trigger(
        trigger: &Trigger,
        default_recover: Recover,
    ) -> Result<ScheduleSpec, TriggerError> {
        let p = &trigger.params;
        let cron_text = p.get("cron").and_then(Value::as_str).ok_or_else(|| {
            TriggerError::Invalid(format!("trigger '{}': missing `cron`", trigger.id))
        })?;
        let with_seconds = p
            .get("withSeconds")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let timezone = p.get("timezone").and_then(Value::as_str);
        let cron = Cron::new(cron_text, with_seconds, timezone)?;
        let late_maximum_delay = match p.get("lateMaximumDelay").and_then(Value::as_str) {
            None => None,
            Some(text) => Some(saker_core::parse_duration(text).map_err(|e| {
                TriggerError::Invalid(format!(
                    "trigger '{}': invalid `lateMaximumDelay`: {e}",
                    trigger.id
                ))
            })?),
        };
        let recover = match p.get("recoverMissedSchedules") {
            None | Some(Value::Null) => default_recover,
            Some(v) => serde_json::from_value(v.clone()).map_err(|_| {
                TriggerError::Invalid(format!(
                    "trigger '{}': `recoverMissedSchedules` must be ALL, LAST or NONE",
                    trigger.id
                ))
            })?,
        };
        let stop_after = trigger
            .stop_after
            .iter()
            .map(|s| {
                s.parse::<StateType>().map_err(|_| {
                    TriggerError::Invalid(format!("unknown state '{s}' in `stopAfter`"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut conditions = trigger.conditions.clone();
        for (slot, list) in &trigger.plugins {
            if slot == "scheduleConditions" {
                conditions.extend(list.iter().cloned());
            }
        }
        Ok(ScheduleSpec {
            trigger_id: trigger.id.clone(),
            fingerprint: format!("{cron_text}|{with_seconds}|{}", timezone.unwrap_or("")),
            cron,
            conditions,
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
            late_maximum_delay,
            recover,
            stop_after,
            disabled: trigger.disabled,
        })
    }

    /// The first tick strictly after `t` whose conditions hold.
    pub fn next_valid(
        &self,
        t: Instant,
        ok: &Accepts<'_>,
    ) -> Result<Option<Instant>, TriggerError> {
        let limit = t + TimeDelta::days(366 * MAX_YEARS);
        let mut cursor = t;
        for _ in 0..MAX_CANDIDATES {
            let Some(tick) = self.cron.next_after(cursor) else {
                return Ok(None);
            };
            if tick > limit {
                return Ok(None);
            }
            if self.conditions.is_empty() || ok(tick)? {
                return Ok(Some(tick));
            }
            cursor = tick;
        }
        Ok(None)
    }

    /// The last tick at or before `t` (`inclusive`) or strictly before it, whose conditions hold.
    pub fn previous_valid(
        &self,
        t: Instant,
        inclusive: bool,
        ok: &Accepts<'_>,
    ) -> Result<Option<Instant>, TriggerError> {
        let limit = t - TimeDelta::days(366 * MAX_YEARS);
        let mut tick = if inclusive {
            self.cron.at_or_before(t)
        } else {
            self.cron.previous_before(t)
        };
        for _ in 0..MAX_CANDIDATES {
            let Some(candidate) = tick else {
                return Ok(None);
            };
            if candidate < limit {
                return Ok(None);
            }
            if self.conditions.is_empty() || ok(candidate)? {
                return Ok(Some(candidate));
            }
            tick = self.cron.previous_before(candidate);
        }
        Ok(None)
    }

    /// Where the stored next date goes after downtime, re-enabling, or a long run that blocked
    /// the trigger: unchanged when not in the past; otherwise per `recoverMissedSchedules`.
    pub fn recover(
        &self,
        stored_next: Option<Instant>,
        now: Instant,
        ok: &Accepts<'_>,
    ) -> Result<Option<Instant>, TriggerError> {
        match stored_next {
            None => self.next_valid(now, ok),
            Some(next) if next >= now => Ok(Some(next)),
            Some(next) => match self.recover {
                Recover::All => Ok(Some(next)),
                Recover::Last => Ok(self.previous_valid(now, true, ok)?.or(Some(next))),
                Recover::None => self.next_valid(now, ok),
            },
        }
    }

    /// `trigger.date`, `trigger.next`, `trigger.previous` of an execution for `tick`, in the
    /// trigger's zone (next/previous honour the conditions, like Kestra).
    pub fn variables(
        &self,
        tick: Instant,
        ok: &Accepts<'_>,
    ) -> Result<Map<String, Value>, TriggerError> {
        let mut vars = Map::new();
        vars.insert("date".into(), Value::String(self.cron.zoned(tick)));
        if let Some(next) = self.next_valid(tick, ok)? {
            vars.insert("next".into(), Value::String(self.cron.zoned(next)));
        }
        if let Some(previous) = self.previous_valid(tick, false, ok)? {
            vars.insert("previous".into(), Value::String(self.cron.zoned(previous)));
        }
        Ok(vars)
    }

    /// What to do now. `next` is the record's `next_execution_date`.
    pub fn evaluate(
        &self,
        next: Option<Instant>,
        state: &ScheduleState,
        now: Instant,
        ok: &Accepts<'_>,
    ) -> Result<Step, TriggerError> {
        // Never overlap the trigger's own execution (Kestra locks the trigger while it runs).
        if state.execution_id.is_some() || state.launching.is_some() {
            return Ok(Step::Wait);
        }
        if let Some(backfill) = &state.backfill {
            if backfill.paused {
                return Ok(Step::Wait);
            }
            let from = backfill.current_date - TimeDelta::seconds(1);
            let tick = self.next_valid(from, ok)?;
            return Ok(match tick.filter(|t| *t <= backfill.end && *t <= now) {
                Some(tick) => {
                    let mut new = state.clone();
                    let b = new.backfill.as_mut().expect("backfill checked above");
                    b.current_date = tick + TimeDelta::seconds(1);
                    new.date = Some(tick);
                    new.launching = Some(tick);
                    let mut inputs = self.inputs.clone();
                    inputs.extend(backfill.inputs.clone());
                    let mut labels = self.labels.clone();
                    labels.extend(backfill.labels.iter().cloned());
                    Step::Fire(Fire {
                        date: tick,
                        variables: self.variables(tick, ok)?,
                        inputs,
                        labels,
                        backfill: true,
                        next,
                        state: new,
                    })
                }
                None => {
                    // Done: normal scheduling resumes from now (ticks during the backfill are
                    // not caught up, as in Kestra).
                    let mut new = state.clone();
                    new.backfill = None;
                    Step::Skip {
                        next: self.next_valid(now, ok)?,
                        state: new,
                    }
                }
            });
        }
        let Some(mut tick) = next else {
            return Ok(Step::Skip {
                next: self.next_valid(now, ok)?,
                state: state.clone(),
            });
        };
        if tick > now {
            return Ok(Step::Wait);
        }
        if let Some(delay) = self.late_maximum_delay {
            if tick + delay < now {
                // The first tick not too late: at or after `now - delay` (one search, not a
                // walk over every stale tick of a long downtime).
                match self.next_valid(now - delay - TimeDelta::nanoseconds(1), ok)? {
                    Some(t) => tick = t,
                    None => {
                        return Ok(Step::Skip {
                            next: None,
                            state: state.clone(),
                        });
                    }
                }
            }
            if tick > now {
                return Ok(Step::Skip {
                    next: Some(tick),
                    state: state.clone(),
                });
            }
        }
        if !self.conditions.is_empty() && !ok(tick)? {
            return Ok(Step::Skip {
                next: self.next_valid(tick, ok)?,
                state: state.clone(),
            });
        }
        let mut new = state.clone();
        new.date = Some(tick);
        new.launching = Some(tick);
        Ok(Step::Fire(Fire {
            date: tick,
            variables: self.variables(tick, ok)?,
            inputs: self.inputs.clone(),
            labels: self.labels.clone(),
            backfill: false,
            next: self.next_valid(tick, ok)?,
            state: new,
        }))
    }
}

/// The decision of [`ScheduleSpec::evaluate`].
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing to do until the stored next date (or until the running execution ends).
    Wait,
    /// Record this next date and state; no execution.
    Skip {
        next: Option<Instant>,
        state: ScheduleState,
    },
    /// Commit `state` and `next`, then start an execution.
    Fire(Fire),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fire {
    /// The tick (`trigger.date`, the execution's `scheduleDate`).
    pub date: Instant,
    /// `trigger.*` of the execution.
    pub variables: Map<String, Value>,
    /// Raw inputs (trigger's, overridden by the backfill's).
    pub inputs: Map<String, Value>,
    pub labels: Vec<Label>,
    pub backfill: bool,
    pub next: Option<Instant>,
    pub state: ScheduleState,
}

/// The scheduler's memory of a Schedule trigger, kept in `TriggerRecord.context`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleState {
    /// The last tick fired (Kestra's trigger `date`).
    #[serde(
        default,
        with = "saker_core::time::iso_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub date: Option<Instant>,
    /// The execution this trigger started and that has not ended: the trigger waits for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// A tick committed but whose execution may not exist yet (a crash between commit and
    /// launch): looked up again after a restart, launched if absent.
    #[serde(
        default,
        with = "saker_core::time::iso_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub launching: Option<Instant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<Backfill>,
    /// [`ScheduleSpec::fingerprint`] the next date was computed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl ScheduleState {
    pub fn from_context(context: &Value) -> ScheduleState {
        serde_json::from_value(context.clone()).unwrap_or_default()
    }

    /// Merges into `context`, keeping keys other parts of the scheduler own.
    pub fn write(&self, context: &mut Value) {
        let mut map = match context {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        for key in [
            "date",
            "executionId",
            "launching",
            "backfill",
            "fingerprint",
        ] {
            map.remove(key);
        }
        if let Ok(Value::Object(own)) = serde_json::to_value(self) {
            map.extend(own);
        }
        *context = Value::Object(map);
    }
}

/// A backfill (Kestra's trigger `backfill`): one execution per tick from `start` to `end`
/// (both included), one at a time, before normal scheduling resumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backfill {
    #[serde(with = "saker_core::time::iso")]
    pub start: Instant,
    #[serde(with = "saker_core::time::iso")]
    pub end: Instant,
    /// Where the next search for a tick starts.
    #[serde(with = "saker_core::time::iso")]
    pub current_date: Instant,
    #[serde(default)]
    pub inputs: Map<String, Value>,
    #[serde(default)]
    pub labels: Vec<Label>,
    #[serde(default)]
    pub paused: bool,
}

impl Backfill {
    /// A backfill as the API gives it (`start` required, `end` defaults to now, `labels` as a
    /// list of `{key, value}` or a map).
    pub fn new(
        start: Instant,
        end: Option<Instant>,
        inputs: Map<String, Value>,
        labels: Option<&Value>,
        now: Instant,
    ) -> Result<Backfill, TriggerError> {
        let end = end.unwrap_or(now);
        if end < start {
            return Err(TriggerError::Invalid(
                "backfill end date must be after its start date".into(),
            ));
        }
        if start > now {
            return Err(TriggerError::Invalid(
                "backfill start date must be in the past".into(),
            ));
        }
        Ok(Backfill {
            start,
            end,
            current_date: start,
            inputs,
            labels: labels_of(labels)
                .into_iter()
                .map(|(k, v)| Label::new(k, v))
                .collect(),
            paused: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saker_core::time::parse_instant;

    fn at(s: &str) -> Instant {
        parse_instant(s).unwrap()
    }

    fn spec(cron: &str, tz: Option<&str>, recover: Recover) -> ScheduleSpec {
        ScheduleSpec {
            trigger_id: "t".into(),
            cron: Cron::new(cron, false, tz).unwrap(),
            conditions: Vec::new(),
            inputs: Map::new(),
            labels: Vec::new(),
            late_maximum_delay: None,
            recover,
            stop_after: Vec::new(),
            disabled: false,
            fingerprint: cron.into(),
        }
    }

    const YES: &Accepts<'static> = &|_| Ok(true);

    /// Drives evaluate like the scheduler does, with executions ending at once.
    fn run(
        spec: &ScheduleSpec,
        mut next: Option<Instant>,
        mut state: ScheduleState,
        now: Instant,
    ) -> (Vec<Instant>, Option<Instant>, ScheduleState) {
        let mut fired = Vec::new();
        for _ in 0..10_000 {
            match spec.evaluate(next, &state, now, YES).unwrap() {
                Step::Wait => break,
                Step::Skip { next: n, state: s } => {
                    if n == next && s == state {
                        break;
                    }
                    next = n;
                    state = s;
                }
                Step::Fire(f) => {
                    fired.push(f.date);
                    next = f.next;
                    state = f.state;
                    state.launching = None;
                }
            }
        }
        (fired, next, state)
    }

    #[test]
    fn recover_all_last_none_after_downtime() {
        let down_at = at("2025-01-01T10:30:00Z");
        let back_at = at("2025-01-01T14:10:00Z");
        let stored = Some(at("2025-01-01T11:00:00Z"));
        let all = spec("0 * * * *", None, Recover::All);
        let next = all.recover(stored, back_at, YES).unwrap();
        let (fired, next, _) = run(&all, next, ScheduleState::default(), back_at);
        assert_eq!(
            fired,
            [
                at("2025-01-01T11:00:00Z"),
                at("2025-01-01T12:00:00Z"),
                at("2025-01-01T13:00:00Z"),
                at("2025-01-01T14:00:00Z")
            ]
        );
        assert_eq!(next, Some(at("2025-01-01T15:00:00Z")));
        let last = spec("0 * * * *", None, Recover::Last);
        let next = last.recover(stored, back_at, YES).unwrap();
        let (fired, next, _) = run(&last, next, ScheduleState::default(), back_at);
        assert_eq!(fired, [at("2025-01-01T14:00:00Z")]);
        assert_eq!(next, Some(at("2025-01-01T15:00:00Z")));
        let none = spec("0 * * * *", None, Recover::None);
        let next = none.recover(stored, back_at, YES).unwrap();
        let (fired, next, _) = run(&none, next, ScheduleState::default(), back_at);
        assert!(fired.is_empty());
        assert_eq!(next, Some(at("2025-01-01T15:00:00Z")));
        // Not in the past: untouched.
        assert_eq!(none.recover(stored, down_at, YES).unwrap(), stored);
    }

    #[test]
    fn late_maximum_delay_skips_stale_ticks() {
        let mut s = spec("*/10 * * * *", None, Recover::All);
        s.late_maximum_delay = Some(TimeDelta::minutes(15));
        let now = at("2025-01-01T10:42:00Z");
        let (fired, next, _) = run(
            &s,
            Some(at("2025-01-01T10:00:00Z")),
            ScheduleState::default(),
            now,
        );
        assert_eq!(
            fired,
            [at("2025-01-01T10:30:00Z"), at("2025-01-01T10:40:00Z")]
        );
        assert_eq!(next, Some(at("2025-01-01T10:50:00Z")));
    }

    #[test]
    fn late_maximum_delay_jumps_over_a_long_downtime_in_one_search() {
        let mut s = spec("* * * * *", None, Recover::All);
        s.cron = Cron::new("*/2 * * * * *", true, None).unwrap();
        s.late_maximum_delay = Some(TimeDelta::seconds(10));
        let now = at("2025-01-08T10:00:05.500Z");
        let step = s
            .evaluate(
                Some(at("2025-01-01T00:00:00Z")),
                &ScheduleState::default(),
                now,
                YES,
            )
            .unwrap();
        let Step::Fire(fire) = step else {
            panic!("{step:?}")
        };
        assert_eq!(fire.date, at("2025-01-08T09:59:56Z"));
        assert_eq!(fire.next, Some(at("2025-01-08T09:59:58Z")));
    }

    #[test]
    fn a_running_execution_blocks_the_trigger() {
        let s = spec("* * * * *", None, Recover::All);
        let state = ScheduleState {
            execution_id: Some("e1".into()),
            ..Default::default()
        };
        assert_eq!(
            s.evaluate(
                Some(at("2025-01-01T00:00:00Z")),
                &state,
                at("2025-01-01T01:00:00Z"),
                YES
            )
            .unwrap(),
            Step::Wait
        );
    }

    #[test]
    fn variables_are_zoned_with_next_and_previous() {
        let s = spec("0 9 * * MON-FRI", Some("Europe/Paris"), Recover::All);
        let vars = s.variables(at("2025-01-06T08:00:00Z"), YES).unwrap();
        assert_eq!(vars["date"], "2025-01-06T09:00:00+01:00");
        assert_eq!(vars["next"], "2025-01-07T09:00:00+01:00");
        assert_eq!(vars["previous"], "2025-01-03T09:00:00+01:00");
    }

    #[test]
    fn backfill_enumerates_its_ticks_then_resumes_from_now() {
        let s = spec("0 0 * * *", None, Recover::All);
        let now = at("2025-03-10T12:00:00Z");
        let backfill = Backfill::new(
            at("2025-03-01T00:00:00Z"),
            Some(at("2025-03-04T00:00:00Z")),
            Map::new(),
            None,
            now,
        )
        .unwrap();
        let state = ScheduleState {
            backfill: Some(backfill),
            ..Default::default()
        };
        let (fired, next, state) = run(&s, Some(at("2025-03-11T00:00:00Z")), state, now);
        assert_eq!(
            fired,
            ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04"]
                .map(|d| at(&format!("{d}T00:00:00Z")))
        );
        assert!(state.backfill.is_none());
        assert_eq!(next, Some(at("2025-03-11T00:00:00Z")));
        assert!(
            Backfill::new(now, Some(at("2025-01-01T00:00:00Z")), Map::new(), None, now).is_err()
        );
    }

    proptest::proptest! {
        /// A backfill fires exactly the cron ticks in [start, end], in order, once each.
        #[test]
        fn backfill_fires_exactly_the_ticks_in_range(
            start in 1_700_000_000i64..1_750_000_000,
            len in 0i64..(40 * 86_400),
            pick in 0usize..4,
        ) {
            let crons = [("0 */6 * * *", None), ("30 2 * * *", Some("Europe/Paris")),
                         ("0 9 * * MON-FRI", Some("America/New_York")), ("15 0 1,15 * *", None)];
            let (cron, tz) = crons[pick];
            let s = spec(cron, tz, Recover::All);
            let start = chrono::DateTime::from_timestamp(start, 0).unwrap();
            let end = start + TimeDelta::seconds(len);
            let now = end + TimeDelta::days(1);
            let mut expected = Vec::new();
            let mut t = s.cron.at_or_after(start);
            while let Some(tick) = t.filter(|t| *t <= end) {
                expected.push(tick);
                t = s.cron.next_after(tick);
            }
            let state = ScheduleState {
                backfill: Some(Backfill::new(start, Some(end), Map::new(), None, now).unwrap()),
                ..Default::default()
            };
            let (fired, _, state) = run(&s, None, state, now);
            proptest::prop_assert_eq!(fired, expected);
            proptest::prop_assert!(state.backfill.is_none());
        }
    }

    #[test]
    fn state_round_trips_through_the_context_and_keeps_foreign_keys() {
        let state = ScheduleState {
            date: Some(at("2025-01-01T00:00:00Z")),
            execution_id: Some("e".into()),
            ..Default::default()
        };
        let mut ctx = serde_json::json!({"other": 1, "launching": "2020-01-01T00:00:00Z"});
        state.write(&mut ctx);
        assert_eq!(
            ctx,
            serde_json::json!({"other": 1, "date": "2025-01-01T00:00:00Z", "executionId": "e"})
        );
        assert_eq!(ScheduleState::from_context(&ctx), state);
    }
}

//! Execution and task-run states (Kestra's `State` and `State.Type`).
//!
//! A [`State`] is the current [`StateType`] plus the full history of transitions. Dates are
//! passed in by the caller (no clock reads), so every transition is reproducible in tests.
//!
//! JSON is Kestra's: `{"current", "histories": [{"state", "date"}], "duration", "startDate",
//! "endDate"}`, where `duration` and `endDate` are present only once the state is terminated
//! or paused (Kestra 1.x; 0.x computed a running duration from the wall clock).

use std::fmt;
use std::str::FromStr;

use chrono::TimeDelta;
use serde::{Deserialize, Deserializer, Serialize, Serializer, ser::SerializeStruct};

use crate::duration::format_duration;
use crate::time::{Instant, format_instant};

/// Every state of Kestra's `State.Type`, printed as its uppercase name.
///
/// `SUBMITTED` and `RESUBMITTED` only exist in Kestra 2.0 (task handed to a worker, and
/// handed again after a worker loss); they are accepted so 2.0 documents parse, and every
/// predicate treats them as waiting (neither created, running nor terminated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StateType {
    Created,
    Running,
    Paused,
    Restarted,
    Killing,
    Success,
    Warning,
    Failed,
    Killed,
    Cancelled,
    Queued,
    Retrying,
    Retried,
    Skipped,
    Breakpoint,
    Submitted,
    Resubmitted,
}

impl StateType {
    /// All states, in Kestra's declaration order.
    pub const ALL: [StateType; 17] = [
        StateType::Created,
        StateType::Running,
        StateType::Paused,
        StateType::Restarted,
        StateType::Killing,
        StateType::Success,
        StateType::Warning,
        StateType::Failed,
        StateType::Killed,
        StateType::Cancelled,
        StateType::Queued,
        StateType::Retrying,
        StateType::Retried,
        StateType::Skipped,
        StateType::Breakpoint,
        StateType::Submitted,
        StateType::Resubmitted,
    ];

    /// Kestra's name (`"SUCCESS"`).
    pub fn as_str(self) -> &'static str {
        match self {
            StateType::Created => "CREATED",
            StateType::Running => "RUNNING",
            StateType::Paused => "PAUSED",
            StateType::Restarted => "RESTARTED",
            StateType::Killing => "KILLING",
            StateType::Success => "SUCCESS",
            StateType::Warning => "WARNING",
            StateType::Failed => "FAILED",
            StateType::Killed => "KILLED",
            StateType::Cancelled => "CANCELLED",
            StateType::Queued => "QUEUED",
            StateType::Retrying => "RETRYING",
            StateType::Retried => "RETRIED",
            StateType::Skipped => "SKIPPED",
            StateType::Breakpoint => "BREAKPOINT",
            StateType::Submitted => "SUBMITTED",
            StateType::Resubmitted => "RESUBMITTED",
        }
    }

    /// Final states: `SUCCESS, WARNING, FAILED, KILLED, CANCELLED, RETRIED, SKIPPED`.
    pub fn is_terminated(self) -> bool {
        matches!(
            self,
            StateType::Failed
                | StateType::Warning
                | StateType::Success
                | StateType::Killed
                | StateType::Cancelled
                | StateType::Retried
                | StateType::Skipped
        )
    }

    /// Final without failure: `SUCCESS, WARNING, RETRIED, SKIPPED`.
    pub fn is_terminated_no_fail(self) -> bool {
        matches!(
            self,
            StateType::Warning | StateType::Success | StateType::Retried | StateType::Skipped
        )
    }

    /// Waiting to be dispatched: `CREATED, RESTARTED`.
    pub fn is_created(self) -> bool {
        matches!(self, StateType::Created | StateType::Restarted)
    }

    /// `RUNNING, KILLING`.
    pub fn is_running(self) -> bool {
        matches!(self, StateType::Running | StateType::Killing)
    }

    /// `FAILED` only (a KILLED run is not "failed" for Kestra).
    pub fn is_failed(self) -> bool {
        self == StateType::Failed
    }

    /// `PAUSED` only.
    pub fn is_paused(self) -> bool {
        self == StateType::Paused
    }

    /// `BREAKPOINT` only.
    pub fn is_breakpoint(self) -> bool {
        self == StateType::Breakpoint
    }

    /// `RETRYING, RETRIED`.
    pub fn is_retrying(self) -> bool {
        matches!(self, StateType::Retrying | StateType::Retried)
    }

    /// `SUCCESS` only.
    pub fn is_success(self) -> bool {
        self == StateType::Success
    }

    /// `KILLED` only.
    pub fn is_killed(self) -> bool {
        self == StateType::Killed
    }

    /// `QUEUED` only.
    pub fn is_queued(self) -> bool {
        self == StateType::Queued
    }

    /// Kestra 2.0's worker hand-off states: `SUBMITTED, RESUBMITTED`.
    pub fn is_submitted(self) -> bool {
        matches!(self, StateType::Submitted | StateType::Resubmitted)
    }

    /// States in which a task run or execution is still in progress (`runningTypes()`):
    /// created or running.
    pub fn is_active(self) -> bool {
        self.is_created() || self.is_running()
    }

    /// The terminal states, in declaration order.
    pub fn terminated_types() -> impl Iterator<Item = StateType> {
        Self::ALL.into_iter().filter(|state| state.is_terminated())
    }

    /// The state a failure becomes under `allowFailure` / `allowWarning` (Kestra's
    /// `State.Type.fail(task)`): both → SUCCESS, allowFailure only → WARNING, else FAILED.
    pub fn fail(allow_failure: bool, allow_warning: bool) -> StateType {
        match (allow_failure, allow_warning) {
            (true, true) => StateType::Success,
            (true, false) => StateType::Warning,
            (false, _) => StateType::Failed,
        }
    }
}

impl fmt::Display for StateType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown state name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state {0:?}")]
pub struct UnknownState(pub String);

impl FromStr for StateType {
    type Err = UnknownState;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        StateType::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
            .ok_or_else(|| UnknownState(name.to_owned()))
    }
}

/// One transition: the state entered and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub state: StateType,
    #[serde(with = "crate::time::iso")]
    pub date: Instant,
}

impl History {
    pub fn new(state: StateType, date: Instant) -> Self {
        History { state, date }
    }
}

/// A current state and its history. The history is never empty: its first entry is the
/// creation (the start date) and its last entry is the current state's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    current: StateType,
    histories: Vec<History>,
}

/// A state document whose history is empty (Kestra cannot print one either).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a state needs at least one history entry")]
pub struct EmptyHistory;

impl State {
    /// A new `CREATED` state (Kestra's `new State()`).
    pub fn new(now: Instant) -> Self {
        State::of(StateType::Created, now)
    }

    /// A new state that starts directly in `state` (Kestra's `new State(type)`).
    pub fn of(state: StateType, now: Instant) -> Self {
        State {
            current: state,
            histories: vec![History::new(state, now)],
        }
    }

    /// Rebuilds a state from stored parts. The current state is taken as given, like
    /// Kestra's `State.of(type, histories)`.
    pub fn from_histories(
        current: StateType,
        histories: Vec<History>,
    ) -> Result<Self, EmptyHistory> {
        if histories.is_empty() {
            return Err(EmptyHistory);
        }
        Ok(State { current, histories })
    }

    pub fn current(&self) -> StateType {
        self.current
    }

    pub fn histories(&self) -> &[History] {
        &self.histories
    }

    /// Moves to `state` at `now`, appending a history entry. Setting the current state again is
    /// a no-op, as in Kestra. Returns whether anything changed.
    pub fn transition(&mut self, state: StateType, now: Instant) -> bool {
        if self.current == state {
            return false;
        }
        self.current = state;
        self.histories.push(History::new(state, now));
        true
    }

    /// [`State::transition`] by value (Kestra's `withState`).
    #[must_use]
    pub fn with_state(mut self, state: StateType, now: Instant) -> Self {
        self.transition(state, now);
        self
    }

    /// Back to `CREATED`, keeping only the first history entry (Kestra's `reset()`).
    #[must_use]
    pub fn reset(&self) -> Self {
        State {
            current: StateType::Created,
            histories: vec![self.histories[0].clone()],
        }
    }

    /// First history date.
    pub fn start_date(&self) -> Instant {
        self.histories[0].date
    }

    /// Last history date, when terminated or paused.
    pub fn end_date(&self) -> Option<Instant> {
        (self.current.is_terminated() || self.current.is_paused()).then(|| self.max_date())
    }

    /// `end_date - start_date`, when there is an end date.
    pub fn duration(&self) -> Option<TimeDelta> {
        self.end_date().map(|end| end - self.start_date())
    }

    /// Time between the first and the last transition, whatever the current state.
    pub fn elapsed(&self) -> TimeDelta {
        self.max_date() - self.min_date()
    }

    /// Date of the last transition.
    pub fn max_date(&self) -> Instant {
        self.histories[self.histories.len() - 1].date
    }

    /// Date of the first transition.
    pub fn min_date(&self) -> Instant {
        self.histories[0].date
    }

    pub fn is_terminated(&self) -> bool {
        self.current.is_terminated()
    }

    pub fn is_terminated_no_fail(&self) -> bool {
        self.current.is_terminated_no_fail()
    }

    pub fn is_created(&self) -> bool {
        self.current.is_created()
    }

    pub fn is_running(&self) -> bool {
        self.current.is_running()
    }

    pub fn is_failed(&self) -> bool {
        self.current.is_failed()
    }

    pub fn is_paused(&self) -> bool {
        self.current.is_paused()
    }

    pub fn is_breakpoint(&self) -> bool {
        self.current.is_breakpoint()
    }

    pub fn is_retrying(&self) -> bool {
        self.current.is_retrying()
    }

    pub fn is_success(&self) -> bool {
        self.current.is_success()
    }

    pub fn is_killed(&self) -> bool {
        self.current.is_killed()
    }

    pub fn is_queued(&self) -> bool {
        self.current.is_queued()
    }

    /// An execution can be restarted from `FAILED` or `PAUSED`.
    pub fn is_restartable(&self) -> bool {
        self.current.is_failed() || self.current.is_paused()
    }

    /// Kestra's `isResumable`: paused, retrying or created.
    pub fn is_resumable(&self) -> bool {
        self.current.is_paused() || self.current.is_retrying() || self.current.is_created()
    }

    /// `RESTARTED` right after `PAUSED` (a resume, not a restart after failure).
    pub fn is_resuming_after_pause(&self) -> bool {
        self.current == StateType::Restarted && self.previous().is_some_and(StateType::is_paused)
    }

    /// `RESTARTED` right after `FAILED`.
    pub fn failed_then_restarted(&self) -> bool {
        self.current == StateType::Restarted && self.previous().is_some_and(StateType::is_failed)
    }

    /// The state before the current one.
    pub fn previous(&self) -> Option<StateType> {
        let len = self.histories.len();
        (len >= 2).then(|| self.histories[len - 2].state)
    }
}

impl Serialize for State {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let end = self.end_date();
        let mut out = serializer.serialize_struct("State", if end.is_some() { 5 } else { 3 })?;
        out.serialize_field("current", &self.current)?;
        out.serialize_field("histories", &self.histories)?;
        if let Some(duration) = self.duration() {
            out.serialize_field("duration", &format_duration(duration))?;
        }
        out.serialize_field("startDate", &format_instant(&self.start_date()))?;
        if let Some(end) = end {
            out.serialize_field("endDate", &format_instant(&end))?;
        }
        out.end()
    }
}

impl<'de> Deserialize<'de> for State {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // duration, startDate and endDate are derived (read-only in Kestra): ignored on input.
        #[derive(Deserialize)]
        struct Raw {
            current: StateType,
            #[serde(default)]
            histories: Vec<History>,
        }
        let raw = Raw::deserialize(deserializer)?;
        State::from_histories(raw.current, raw.histories).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn at(millis: i64) -> Instant {
        Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).unwrap() + TimeDelta::milliseconds(millis)
    }

    #[test]
    fn names_round_trip() {
        for state in StateType::ALL {
            assert_eq!(state.as_str().parse::<StateType>().unwrap(), state);
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
            assert_eq!(serde_json::from_str::<StateType>(&json).unwrap(), state);
        }
        assert!("success".parse::<StateType>().is_err());
    }

    #[test]
    fn predicates_match_kestra() {
        use StateType::*;
        let terminated: Vec<_> = StateType::terminated_types().collect();
        assert_eq!(
            terminated,
            [
                Success, Warning, Failed, Killed, Cancelled, Retried, Skipped
            ]
        );
        let no_fail: Vec<_> = StateType::ALL
            .into_iter()
            .filter(|s| s.is_terminated_no_fail())
            .collect();
        assert_eq!(no_fail, [Success, Warning, Retried, Skipped]);
        let created: Vec<_> = StateType::ALL
            .into_iter()
            .filter(|s| s.is_created())
            .collect();
        assert_eq!(created, [Created, Restarted]);
        let running: Vec<_> = StateType::ALL
            .into_iter()
            .filter(|s| s.is_running())
            .collect();
        assert_eq!(running, [Running, Killing]);
        let retrying: Vec<_> = StateType::ALL
            .into_iter()
            .filter(|s| s.is_retrying())
            .collect();
        assert_eq!(retrying, [Retrying, Retried]);
        assert!(Failed.is_failed() && !Killed.is_failed());
        assert!(Paused.is_paused() && !Breakpoint.is_paused());
        for waiting in [Submitted, Resubmitted, Queued, Breakpoint, Paused] {
            assert!(!waiting.is_terminated() && !waiting.is_running() && !waiting.is_created());
        }
        assert_eq!(StateType::fail(false, true), Failed);
        assert_eq!(StateType::fail(true, false), Warning);
        assert_eq!(StateType::fail(true, true), Success);
    }

    #[test]
    fn transitions_append_history_and_ignore_repeats() {
        let mut state = State::new(at(0));
        assert!(state.transition(StateType::Running, at(40)));
        assert!(!state.transition(StateType::Running, at(50)));
        assert_eq!(state.histories().len(), 2);
        let state = state.with_state(StateType::Success, at(2290));
        assert_eq!(state.current(), StateType::Success);
        assert_eq!(state.start_date(), at(0));
        assert_eq!(state.end_date(), Some(at(2290)));
        assert_eq!(state.duration(), Some(TimeDelta::milliseconds(2290)));
        assert_eq!(state.previous(), Some(StateType::Running));
    }

    #[test]
    fn running_state_has_no_end_nor_duration() {
        let state = State::new(at(0)).with_state(StateType::Running, at(10));
        assert_eq!(state.end_date(), None);
        assert_eq!(state.duration(), None);
        assert_eq!(state.elapsed(), TimeDelta::milliseconds(10));
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "current": "RUNNING",
                "histories": [
                    {"state": "CREATED", "date": "2025-01-06T09:00:00Z"},
                    {"state": "RUNNING", "date": "2025-01-06T09:00:00.010Z"}
                ],
                "startDate": "2025-01-06T09:00:00Z"
            })
        );
    }

    #[test]
    fn terminated_state_json() {
        let state = State::new(at(10))
            .with_state(StateType::Running, at(50))
            .with_state(StateType::Success, at(133));
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(
            json,
            r#"{"current":"SUCCESS","histories":[{"state":"CREATED","date":"2025-01-06T09:00:00.010Z"},{"state":"RUNNING","date":"2025-01-06T09:00:00.050Z"},{"state":"SUCCESS","date":"2025-01-06T09:00:00.133Z"}],"duration":"PT0.123S","startDate":"2025-01-06T09:00:00.010Z","endDate":"2025-01-06T09:00:00.133Z"}"#
        );
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn paused_state_has_end_date() {
        let state = State::new(at(0)).with_state(StateType::Paused, at(1000));
        assert_eq!(state.end_date(), Some(at(1000)));
        let resumed = state.with_state(StateType::Restarted, at(2000));
        assert!(resumed.is_resuming_after_pause());
        assert!(!resumed.failed_then_restarted());
        assert_eq!(resumed.end_date(), None);
    }

    #[test]
    fn reset_keeps_first_history() {
        let state = State::new(at(0))
            .with_state(StateType::Running, at(1))
            .with_state(StateType::Failed, at(2));
        let reset = state.reset();
        assert_eq!(reset.current(), StateType::Created);
        assert_eq!(reset.histories(), &state.histories()[..1]);
    }

    #[test]
    fn rejects_empty_history() {
        let error = serde_json::from_str::<State>(r#"{"current":"CREATED","histories":[]}"#);
        assert!(error.is_err());
        assert!(serde_json::from_str::<State>(r#"{"current":"NOPE","histories":[]}"#).is_err());
    }
}

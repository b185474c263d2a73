//! Flow-level SLAs (spec §1.9): `MAX_DURATION` as a timer armed when the execution starts,
//! `EXECUTION_ASSERTION` evaluated on every change of a running execution, and what a
//! violation does (`FAIL`, `CANCEL`, `NONE`, labels), with Kestra's log lines.

use saker_core::{Instant, Label, StateType, format_duration, parse_duration};
use saker_flow::{Sla, SlaBehavior, SlaKind, TaskKind};

use crate::action::{Action, LogLevel};
use crate::cx::Cx;
use crate::event::Timer;

/// Arms a timer per `MAX_DURATION` SLA, due `duration` after `from`. Kestra creates its monitors
/// when the execution is created (and when a failed one is restarted), due at the execution's
/// start date plus the duration: a deadline already past fires at once.
pub(crate) fn arm_deadlines(cx: &mut Cx<'_>, from: Instant) {
    for sla in &cx.flow.sla {
        let SlaKind::MaxDuration { duration } = &sla.kind else {
            continue;
        };
        match parse_duration(duration) {
            Ok(delta) => cx.actions.push(Action::ArmTimer {
                at: from + delta,
                timer: Timer::SlaDue {
                    sla_id: sla.id.clone(),
                },
            }),
            Err(error) => cx.log(
                LogLevel::Error,
                None,
                format!("Ignoring SLA '{}' because of the error: {error}", sla.id),
            ),
        }
    }
}

/// A `MAX_DURATION` deadline is due: the execution is still running, so the SLA is violated.
pub(crate) fn deadline(cx: &mut Cx<'_>, sla_id: &str) {
    if cx.exec.state.is_terminated() {
        return;
    }
    let flow = cx.flow;
    // Kestra's monitor names the SLA by id; the flow may have changed since it was armed.
    let Some((sla, limit)) = flow.sla.iter().find_map(|sla| match &sla.kind {
        SlaKind::MaxDuration { duration } if sla.id == sla_id => Some((sla, duration)),
        _ => None,
    }) else {
        return;
    };
    let elapsed = cx.now - cx.exec.state.start_date();
    let elapsed = chrono::TimeDelta::milliseconds(elapsed.num_milliseconds());
    let reason = format!(
        "execution duration of {} exceed the maximum duration of {limit}.",
        format_duration(elapsed)
    );
    violated(cx, sla, &reason);
}

/// Evaluates every `EXECUTION_ASSERTION` of a running execution (Kestra does it each time the
/// executor processes a change). Each violation is logged; only the first one acts.
pub(crate) fn on_change(cx: &mut Cx<'_>) {
    let flow = cx.flow;
    if flow.sla.is_empty() || !evaluated(cx) {
        return;
    }
    let mut first: Option<(&Sla, String)> = None;
    for sla in &flow.sla {
        let SlaKind::ExecutionAssertion { assertion } = &sla.kind else {
            continue;
        };
        match cx.render(assertion, None, None) {
            Ok(rendered) if saker_expr::is_truthy_string(&rendered) => {}
            Ok(_) => {
                let reason = format!("assertion is false: {assertion}.");
                cx.log(
                    LogLevel::Warn,
                    None,
                    format!("SLA '{}' violated: {reason}", sla.id),
                );
                first.get_or_insert((sla, reason));
            }
            Err(message) => cx.log(
                LogLevel::Error,
                None,
                format!("Ignoring SLA '{}' because of the error: {message}", sla.id),
            ),
        }
    }
    if let Some((sla, reason)) = first {
        act(cx, sla, &reason);
    }
}

/// Kestra skips terminated executions, and scheduled or queued ones never reach the check.
fn evaluated(cx: &Cx<'_>) -> bool {
    let state = cx.exec.state.current();
    if state.is_terminated() || state == StateType::Queued {
        return false;
    }
    !(state == StateType::Created && cx.exec.schedule_date.is_some_and(|at| at > cx.now))
}

fn violated(cx: &mut Cx<'_>, sla: &Sla, reason: &str) {
    cx.log(
        LogLevel::Warn,
        None,
        format!("SLA '{}' violated: {reason}", sla.id),
    );
    act(cx, sla, reason);
}

/// FAIL and CANCEL end the execution in that state (its last unfinished task run too) and
/// interrupt the work still running; every behavior adds the SLA's labels.
fn act(cx: &mut Cx<'_>, sla: &Sla, reason: &str) {
    let state = match sla.behavior {
        SlaBehavior::Fail => {
            cx.log(
                LogLevel::Error,
                None,
                format!(
                    "Execution failed due to SLA '{}' violated: {reason}",
                    sla.id
                ),
            );
            Some(StateType::Failed)
        }
        SlaBehavior::Cancel => Some(StateType::Cancelled),
        SlaBehavior::None => None,
    };
    if let Some(state) = state {
        end_as(cx, state);
    }
    let missing = sla.labels.iter().any(|l| {
        !cx.exec
            .labels
            .iter()
            .any(|e| e.key == l.key && e.value == l.value)
    });
    if missing {
        for label in &sla.labels {
            cx.exec.put_label(Label::new(&label.key, &label.value));
        }
    }
}

fn end_as(cx: &mut Cx<'_>, state: StateType) {
    let unfinished = |r: &saker_core::TaskRun| {
        !r.state.current().is_terminated() && r.force_execution != Some(true)
    };
    // Work on a worker or in a child execution is interrupted; what has not started never will.
    let interrupt = cx.runs_in(|r| {
        unfinished(r)
            && r.state.current().is_running()
            && cx.task_of(r).is_some_and(|t| {
                matches!(
                    t.kind,
                    TaskKind::Runnable | TaskKind::WorkingDirectory | TaskKind::Executable
                )
            })
    });
    let last = cx.runs_in(unfinished).pop();
    if let Some(last) = &last {
        cx.set_state(last, state);
        // Its worker's late KILLED report is ignored: close the attempt now.
        let now = cx.now;
        if let Some(attempt) = cx
            .run_mut(last)
            .and_then(|r| r.attempts.last_mut())
            .filter(|a| !a.state.is_terminated())
        {
            attempt.state.transition(StateType::Killed, now);
        }
    }
    let waiting = cx.runs_in(|r| {
        unfinished(r)
            && matches!(
                r.state.current(),
                StateType::Created
                    | StateType::Restarted
                    | StateType::Paused
                    | StateType::Retrying
                    | StateType::Breakpoint
            )
    });
    for id in waiting {
        cx.set_state(&id, StateType::Killed);
    }
    cx.exec.transition(state, cx.now);
    for task_run_id in interrupt {
        cx.actions.push(Action::KillTaskRun { task_run_id });
    }
}

//! Retries (spec §3.2, §6.5): which policy applies to a failed task run, and when the next
//! attempt is due. Random intervals draw from the injected [`IdSource`], keeping `apply` pure.

use chrono::TimeDelta;
use saker_core::{IdSource, Instant, TaskRun, parse_duration};
use saker_flow::{Flow, Retry, RetryBehavior, RetryType};

use crate::runs::Runs;
use crate::tree::FlowIndex;

/// Task `retry` → nearest flowable ancestor's `retry` → flow `retry`.
pub(crate) fn policy<'a>(
    flow: &'a Flow,
    index: &FlowIndex<'a>,
    runs: Runs<'_>,
    run: &TaskRun,
) -> Option<&'a Retry> {
    if let Some(retry) = index
        .task(&run.task_id)
        .and_then(|t| t.common.retry.as_ref())
    {
        return Some(retry);
    }
    // Indexed: a scan of the list per task-run result was O(task runs) per event.
    runs.parents(run)
        .into_iter()
        .rev()
        .find_map(|parent| {
            index
                .task(&parent.task_id)
                .and_then(|t| t.common.retry.as_ref())
        })
        .or(flow.retry.as_ref())
}

fn duration(text: Option<&str>, name: &str) -> Result<Option<TimeDelta>, String> {
    text.map(|t| {
        parse_duration(t).map_err(|error| format!("invalid retry `{name}` {t:?}: {error}"))
    })
    .transpose()
}

/// When the next attempt is due, or `None` when no attempt is left.
///
/// `attempts` is the number of attempts made so far (task run attempts, or the execution's
/// attempt number for `CREATE_NEW_EXECUTION`), `last_end` when the last one ended and
/// `first_start` when the first one started.
pub(crate) fn next_date(
    retry: &Retry,
    attempts: u32,
    last_end: Instant,
    first_start: Instant,
    ids: &mut dyn IdSource,
) -> Result<Option<Instant>, String> {
    if retry.max_attempts.is_some_and(|max| attempts >= max) {
        return Ok(None);
    }
    let interval = duration(retry.interval.as_deref(), "interval")?;
    let max_interval = duration(retry.max_interval.as_deref(), "maxInterval")?;
    let min_interval = duration(retry.min_interval.as_deref(), "minInterval")?;
    let delay = match retry.type_ {
        RetryType::Constant => interval.unwrap_or_default(),
        RetryType::Exponential => {
            // Kestra multiplies by int(delayFactor) * (n - 1): the first retry is immediate.
            let factor = retry.delay_factor.unwrap_or(2.0) as i32;
            let n = attempts.max(1) as i32 - 1;
            let delay = interval.unwrap_or_default() * factor.saturating_mul(n);
            match max_interval {
                Some(max) if delay > max => max,
                _ => delay,
            }
        }
        RetryType::Random => {
            let min = min_interval.unwrap_or_default();
            let max = max_interval.unwrap_or(min);
            let span = (max - min).num_milliseconds().max(0) as u128;
            let offset = if span == 0 { 0 } else { ids.next_u128() % span };
            min + TimeDelta::milliseconds(offset as i64)
        }
    };
    let next = last_end + delay;
    if let Some(max_duration) = duration(retry.max_duration.as_deref(), "maxDuration")?
        && next > first_start + max_duration
    {
        return Ok(None);
    }
    Ok(Some(next))
}

pub(crate) fn creates_new_execution(retry: &Retry) -> bool {
    retry.behavior == RetryBehavior::CreateNewExecution
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use saker_core::SequentialIds;

    use super::*;

    fn retry(type_: RetryType) -> Retry {
        Retry {
            type_,
            interval: Some("PT10S".into()),
            max_interval: Some("PT20S".into()),
            min_interval: Some("PT5S".into()),
            delay_factor: None,
            max_attempts: Some(3),
            max_duration: None,
            warning_on_retry: false,
            behavior: RetryBehavior::RetryFailedTask,
        }
    }

    fn at(seconds: i64) -> Instant {
        chrono::Utc.with_ymd_and_hms(2025, 1, 6, 9, 0, 0).unwrap() + TimeDelta::seconds(seconds)
    }

    #[test]
    fn max_attempts_counts_the_first_attempt() {
        let mut ids = SequentialIds::new(1);
        let constant = retry(RetryType::Constant);
        assert_eq!(
            next_date(&constant, 2, at(0), at(0), &mut ids),
            Ok(Some(at(10)))
        );
        assert_eq!(next_date(&constant, 3, at(0), at(0), &mut ids), Ok(None));
    }

    #[test]
    fn random_interval_stays_in_bounds_and_is_reproducible() {
        let random = retry(RetryType::Random);
        for seed in 0..50 {
            let next = next_date(&random, 1, at(0), at(0), &mut SequentialIds::new(seed))
                .unwrap()
                .unwrap();
            assert!(next >= at(5) && next < at(20), "{next}");
            let again = next_date(&random, 1, at(0), at(0), &mut SequentialIds::new(seed)).unwrap();
            assert_eq!(again, Some(next));
        }
    }

    #[test]
    fn bad_durations_are_errors_not_panics() {
        let mut broken = retry(RetryType::Constant);
        broken.interval = Some("ten seconds".into());
        let error = next_date(&broken, 1, at(0), at(0), &mut SequentialIds::new(1)).unwrap_err();
        assert!(error.contains("invalid retry `interval`"), "{error}");
    }
}

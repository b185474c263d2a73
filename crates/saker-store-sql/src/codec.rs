//! How values are laid out in SQL columns, shared by every dialect: instants as BIGINT
//! nanoseconds, log levels as ordered integers, documents as JSON text.

use std::collections::{HashMap, HashSet};

use saker_core::{Execution, Instant, TaskRun, TaskRunId};
use saker_storage::Error;
use saker_task::Level;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An instant as nanoseconds since the Unix epoch: exact (instants carry nanoseconds), ordered,
/// and a plain BIGINT on every backend. Covers 1677-09-21 to 2262-04-11.
pub fn instant_to_db(instant: Instant) -> Result<i64, Error> {
    instant.timestamp_nanos_opt().ok_or_else(|| {
        Error::Backend(format!(
            "date {} is outside the range the store keeps (years 1678 to 2261)",
            saker_core::time::format_instant(&instant)
        ))
    })
}

pub fn instant_from_db(nanos: i64) -> Instant {
    chrono::DateTime::from_timestamp_nanos(nanos)
}

pub fn option_instant_to_db(instant: Option<Instant>) -> Result<Option<i64>, Error> {
    instant.map(instant_to_db).transpose()
}

/// Levels as integers so `level >= min` is one comparison in SQL.
pub fn level_to_db(level: Level) -> i64 {
    match level {
        Level::Trace => 0,
        Level::Debug => 1,
        Level::Info => 2,
        Level::Warn => 3,
        Level::Error => 4,
    }
}

pub fn level_from_db(rank: i64) -> Result<Level, Error> {
    Ok(match rank {
        0 => Level::Trace,
        1 => Level::Debug,
        2 => Level::Info,
        3 => Level::Warn,
        4 => Level::Error,
        other => {
            return Err(Error::Backend(format!(
                "unknown log level {other} in the store"
            )));
        }
    })
}

pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    serde_json::to_string(value).map_err(|e| Error::Backend(format!("cannot encode JSON: {e}")))
}

pub fn from_json<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, Error> {
    serde_json::from_str(text)
        .map_err(|e| Error::Backend(format!("the stored {what} is not readable: {e}")))
}

/// The indexed columns and JSON of an execution header row.
pub struct ExecutionRow {
    pub id: String,
    pub namespace: String,
    pub flow_id: String,
    pub state: &'static str,
    pub start_date: i64,
    pub end_date: Option<i64>,
    pub parent_id: Option<String>,
    pub deleted: bool,
    pub header: String,
}

impl ExecutionRow {
    pub fn new(execution: &Execution) -> Result<Self, Error> {
        Ok(ExecutionRow {
            id: execution.id.as_str().to_owned(),
            namespace: execution.namespace.clone(),
            flow_id: execution.flow_id.clone(),
            state: execution.state.current().as_str(),
            start_date: instant_to_db(execution.state.start_date())?,
            end_date: option_instant_to_db(execution.state.end_date())?,
            parent_id: execution.parent_id.as_ref().map(|p| p.as_str().to_owned()),
            deleted: execution.deleted,
            header: to_json(&execution.header())?,
        })
    }
}

/// A task run as stored: its position in the execution's list and its JSON.
pub struct TaskRunRow {
    pub id: String,
    pub position: i64,
    pub value: String,
}

impl TaskRunRow {
    pub fn new(position: usize, run: &TaskRun) -> Result<Self, Error> {
        Ok(TaskRunRow {
            id: run.id.as_str().to_owned(),
            position: position as i64,
            value: to_json(run)?,
        })
    }
}

/// The rows of the task runs a delta names, checked before anything is written so a bad delta
/// changes nothing.
pub fn delta_rows(execution: &Execution, ids: &[TaskRunId]) -> Result<Vec<TaskRunRow>, Error> {
    let list = &execution.task_run_list;
    // The usual delta is a few runs at the end of the list (new and active ones); a big one
    // gets an index instead of a scan per id.
    let index: HashMap<&TaskRunId, usize> = if ids.len() > 8 {
        list.iter()
            .enumerate()
            .map(|(position, run)| (&run.id, position))
            .collect()
    } else {
        HashMap::new()
    };
    // A run named twice is written once (PostgreSQL refuses to upsert one row twice in a
    // statement).
    let mut seen = HashSet::new();
    ids.iter()
        .filter(|id| seen.insert(*id))
        .map(|id| {
            let position = if ids.len() > 8 {
                index.get(id).copied()
            } else {
                list.iter().rposition(|run| run.id == *id)
            };
            let position = position.ok_or_else(|| {
                Error::NotFound(format!("task run {} in the execution", id.as_str()))
            })?;
            TaskRunRow::new(position, &list[position])
        })
        .collect()
}

/// The rows of every task run of an execution.
pub fn all_rows(execution: &Execution) -> Result<Vec<TaskRunRow>, Error> {
    execution
        .task_run_list
        .iter()
        .enumerate()
        .map(|(position, run)| TaskRunRow::new(position, run))
        .collect()
}

/// Assembles an execution from its header JSON and its task-run JSONs (in list order).
pub fn assemble<'a>(
    header: &str,
    runs: impl IntoIterator<Item = &'a str>,
) -> Result<Execution, Error> {
    let mut execution: Execution = from_json(header, "execution")?;
    execution.task_run_list = runs
        .into_iter()
        .map(|run| from_json(run, "task run"))
        .collect::<Result<_, _>>()?;
    Ok(execution)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_keep_nanoseconds_and_refuse_what_does_not_fit() {
        let at = saker_core::time::parse_instant("2026-03-01T10:20:30.123456789Z").unwrap();
        assert_eq!(instant_from_db(instant_to_db(at).unwrap()), at);
        let far = saker_core::time::parse_instant("3000-01-01T00:00:00Z").unwrap();
        let error = instant_to_db(far).unwrap_err().to_string();
        assert!(error.contains("3000-01-01T00:00:00Z"), "{error}");
    }

    #[test]
    fn levels_round_trip_in_order() {
        let levels = [
            Level::Trace,
            Level::Debug,
            Level::Info,
            Level::Warn,
            Level::Error,
        ];
        for pair in levels.windows(2) {
            assert!(level_to_db(pair[0]) < level_to_db(pair[1]));
        }
        for level in levels {
            assert_eq!(level_from_db(level_to_db(level)).unwrap(), level);
        }
        assert!(level_from_db(9).is_err());
    }
}

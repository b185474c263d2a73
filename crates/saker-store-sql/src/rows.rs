//! Reading rows, written once for both drivers: [`SqlRow`] gives the few column types the
//! schema uses (text, BIGINT, boolean) the same way on a SQLite and a PostgreSQL row, and the
//! record decoders below build on it.

use std::collections::HashMap;

use saker_core::{Execution, Instant};
use saker_storage::{
    Error, FlowRecord, LogEntry, MetricEntry, PurgedExecution, Result, TriggerKey, TriggerRecord,
};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::codec::{assemble, from_json, instant_from_db, level_from_db};

/// A driver error as a store error. An exhausted pool gets a message saying what to tune.
pub(crate) fn db(error: sqlx::Error) -> Error {
    match error {
        sqlx::Error::PoolTimedOut => Error::Backend(
            "timed out waiting for a free database connection: every connection of the pool is \
             busy (raise `max_connections` or `acquire_timeout` in the database URL, or lower \
             the load)"
                .to_owned(),
        ),
        error => Error::Backend(error.to_string()),
    }
}

/// The column types of the schema, by position.
pub(crate) trait SqlRow {
    fn text(&self, index: usize) -> Result<String>;
    fn opt_text(&self, index: usize) -> Result<Option<String>>;
    fn int(&self, index: usize) -> Result<i64>;
    fn opt_int(&self, index: usize) -> Result<Option<i64>>;
    fn flag(&self, index: usize) -> Result<bool>;
    fn float(&self, index: usize) -> Result<f64>;

    fn opt_instant(&self, index: usize) -> Result<Option<Instant>> {
        Ok(self.opt_int(index)?.map(instant_from_db))
    }
}

macro_rules! sql_row {
    ($row:ty) => {
        impl SqlRow for $row {
            fn text(&self, index: usize) -> Result<String> {
                self.try_get(index).map_err(db)
            }
            fn opt_text(&self, index: usize) -> Result<Option<String>> {
                self.try_get(index).map_err(db)
            }
            fn int(&self, index: usize) -> Result<i64> {
                self.try_get(index).map_err(db)
            }
            fn opt_int(&self, index: usize) -> Result<Option<i64>> {
                self.try_get(index).map_err(db)
            }
            fn flag(&self, index: usize) -> Result<bool> {
                self.try_get(index).map_err(db)
            }
            fn float(&self, index: usize) -> Result<f64> {
                self.try_get(index).map_err(db)
            }
        }
    };
}

sql_row!(SqliteRow);
sql_row!(PgRow);

/// `namespace, id, revision, source, deleted`.
pub(crate) fn flow_record(row: &impl SqlRow) -> Result<FlowRecord> {
    Ok(FlowRecord {
        namespace: row.text(0)?,
        id: row.text(1)?,
        revision: u32::try_from(row.int(2)?)
            .map_err(|_| Error::Backend("flow revision out of range".to_owned()))?,
        source: row.text(3)?,
        deleted: row.flag(4)?,
    })
}

/// The columns of [`sql::TRIGGER_GET`](crate::sql::TRIGGER_GET), in order.
pub(crate) fn trigger_record(row: &impl SqlRow) -> Result<TriggerRecord> {
    Ok(TriggerRecord {
        key: TriggerKey {
            namespace: row.text(0)?,
            flow_id: row.text(1)?,
            trigger_id: row.text(2)?,
        },
        next_execution_date: row.opt_instant(3)?,
        disabled: row.flag(4)?,
        context: from_json(&row.text(5)?, "trigger context")?,
        lease_owner: row.opt_text(6)?,
        lease_until: row.opt_instant(7)?,
        updated: instant_from_db(row.int(8)?),
    })
}

/// The columns of [`sql::LOG_COLUMNS`](crate::sql::LOG_COLUMNS), in order.
pub(crate) fn log_entry(row: &impl SqlRow) -> Result<LogEntry> {
    Ok(LogEntry {
        namespace: row.text(0)?,
        flow_id: row.text(1)?,
        task_id: row.opt_text(2)?,
        execution_id: row.text(3)?,
        task_run_id: row.opt_text(4)?,
        attempt_number: row
            .opt_int(5)?
            .map(|n| {
                u32::try_from(n)
                    .map_err(|_| Error::Backend(format!("attempt number {n} out of range")))
            })
            .transpose()?,
        timestamp: instant_from_db(row.int(6)?),
        level: level_from_db(row.int(7)?)?,
        thread: row.text(8)?,
        message: row.text(9)?,
    })
}

/// The columns of [`sql::METRIC_COLUMNS`](crate::sql::METRIC_COLUMNS), in order.
pub(crate) fn metric_entry(row: &impl SqlRow) -> Result<MetricEntry> {
    Ok(MetricEntry {
        namespace: row.text(0)?,
        flow_id: row.text(1)?,
        task_id: row.text(2)?,
        execution_id: row.text(3)?,
        task_run_id: row.text(4)?,
        metric_type: row.text(5)?,
        name: row.text(6)?,
        value: row.float(7)?,
        timestamp: instant_from_db(row.int(8)?),
        tags: from_json(&row.text(9)?, "metric tags")?,
    })
}

/// The rows of [`sql::EXECUTION_GET`](crate::sql::EXECUTION_GET) as an execution.
pub(crate) fn execution_from_parts(rows: &[impl SqlRow]) -> Result<Option<Execution>> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    if first.int(0)? != 0 {
        // Task runs without a header: not an execution.
        return Ok(None);
    }
    let values: Vec<String> = rows.iter().map(|row| row.text(2)).collect::<Result<_>>()?;
    assemble(&values[0], values[1..].iter().map(String::as_str)).map(Some)
}

/// Groups `(execution_id, value)` task-run rows by execution, keeping their order.
pub(crate) fn runs_by_execution(
    rows: &[impl SqlRow],
    runs: &mut HashMap<String, Vec<String>>,
) -> Result<()> {
    for row in rows {
        runs.entry(row.text(0)?).or_default().push(row.text(1)?);
    }
    Ok(())
}

/// Assembles executions from `(id, header)` rows and their runs, keeping the rows' order.
pub(crate) fn assemble_all(
    headers: &[impl SqlRow],
    mut runs: HashMap<String, Vec<String>>,
) -> Result<Vec<Execution>> {
    headers
        .iter()
        .map(|row| {
            let id = row.text(0)?;
            let own = runs.remove(&id).unwrap_or_default();
            assemble(&row.text(1)?, own.iter().map(String::as_str))
        })
        .collect()
}

/// The rows of [`sql::purge_selection`](crate::sql::purge_selection) (`id, namespace, flow_id`)
/// and the ids to bind to [`sql::purge_deletes`](crate::sql::purge_deletes).
pub(crate) fn purged_executions<R: SqlRow>(
    rows: &[R],
) -> Result<(Vec<PurgedExecution>, Vec<crate::sql::Param>)> {
    let purged = rows
        .iter()
        .map(|row| {
            Ok(PurgedExecution {
                id: row.text(0)?,
                namespace: row.text(1)?,
                flow_id: row.text(2)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let ids = purged
        .iter()
        .map(|p| crate::sql::Param::Text(p.id.clone()))
        .collect();
    Ok((purged, ids))
}

//! SQL text shared by the SQLite and PostgreSQL backends. Every statement uses `$N`
//! placeholders (both drivers accept them), `ON CONFLICT … DO UPDATE`, `RETURNING` and
//! `NOT <boolean column>`, which mean the same on both. What differs per dialect lives in the
//! backend module: DDL (`migrations/<dialect>/`), transaction start (`BEGIN IMMEDIATE` on
//! SQLite) and, behind [`Dialect`], the label filter over the header JSON and substring search.
//!
//! Text ordering assumes byte order: SQLite's default BINARY collation, `COLLATE "C"` columns
//! on PostgreSQL.

use saker_core::{Label, StateType};
use saker_storage::{
    ExecutionPurge, ExecutionQuery, LogFilter, LogPurge, LogSearch, MetricQuery, Paging, Scope,
};

use crate::codec::{instant_to_db, level_to_db};
use saker_storage::Error;

// ----- Flows

pub const FLOW_LATEST: &str = "SELECT namespace, id, revision, source, deleted FROM flows \
     WHERE namespace = $1 AND id = $2 ORDER BY revision DESC LIMIT 1";

pub const FLOW_REVISION: &str = "SELECT namespace, id, revision, source, deleted FROM flows \
     WHERE namespace = $1 AND id = $2 AND revision = $3";

pub const FLOW_REVISIONS: &str = "SELECT namespace, id, revision, source, deleted FROM flows \
     WHERE namespace = $1 AND id = $2 ORDER BY revision";

pub const FLOW_INSERT: &str =
    "INSERT INTO flows (namespace, id, revision, source, deleted) VALUES ($1, $2, $3, $4, $5)";

/// The latest revision of every live flow; `$1` narrows to one namespace when not NULL.
pub const FLOWS_LATEST: &str = "SELECT f.namespace, f.id, f.revision, f.source, f.deleted \
     FROM flows f \
     WHERE f.revision = (SELECT MAX(l.revision) FROM flows l \
                         WHERE l.namespace = f.namespace AND l.id = f.id) \
       AND NOT f.deleted AND ($1 IS NULL OR f.namespace = $1) \
     ORDER BY f.namespace, f.id";

// ----- Executions

pub const EXECUTION_UPDATE: &str = "UPDATE executions SET namespace = $2, flow_id = $3, \
     state = $4, start_date = $5, end_date = $6, parent_id = $7, deleted = $8, header = $9 \
     WHERE id = $1";

pub const EXECUTION_INSERT: &str = "INSERT INTO executions \
     (id, namespace, flow_id, state, start_date, end_date, parent_id, deleted, header) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

pub const TASK_RUN_UPSERT: &str = "INSERT INTO task_runs (execution_id, id, position, value) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (execution_id, id) DO UPDATE SET position = excluded.position, \
     value = excluded.value";

pub const TASK_RUNS_DELETE: &str = "DELETE FROM task_runs WHERE execution_id = $1";

/// How many task runs one multi-row INSERT writes (4 parameters each, far below every
/// backend's parameter limit).
pub const TASK_RUNS_PER_INSERT: usize = 250;

/// `INSERT INTO task_runs … VALUES ($1, $2, $3, $4), ($5, …)` for `rows` rows.
pub fn task_runs_insert(rows: usize) -> String {
    let mut sql = String::from("INSERT INTO task_runs (execution_id, id, position, value) VALUES ");
    push_tuples(&mut sql, rows, 4);
    sql
}

/// The header (kind 0) then the task runs in order (kind 1) of one execution, in one
/// statement so it reads one consistent snapshot.
pub const EXECUTION_GET: &str = "SELECT CAST(0 AS BIGINT) AS kind, CAST(-1 AS BIGINT) AS position, \
     header AS value \
     FROM executions WHERE id = $1 \
     UNION ALL \
     SELECT CAST(1 AS BIGINT) AS kind, position, value FROM task_runs WHERE execution_id = $1 \
     ORDER BY kind, position";

pub const EXECUTION_DELETE: &str = "DELETE FROM executions WHERE id = $1";

// ----- Logs

pub const LOG_COLUMNS: &str = "namespace, flow_id, task_id, execution_id, task_run_id, \
     attempt_number, timestamp, level, thread, message";

pub const LOGS_PER_INSERT: usize = 200;

/// `INSERT INTO logs (…) VALUES (…), (…)` for `rows` rows of 10 parameters.
pub fn logs_insert(rows: usize) -> String {
    let mut sql = format!("INSERT INTO logs ({LOG_COLUMNS}) VALUES ");
    push_tuples(&mut sql, rows, 10);
    sql
}

pub const LOGS_DELETE: &str = "DELETE FROM logs WHERE execution_id = $1";

// ----- Metrics

pub const METRIC_COLUMNS: &str = "namespace, flow_id, task_id, execution_id, task_run_id, \
     type, name, value, timestamp, tags";

pub const METRICS_PER_INSERT: usize = 200;

/// `INSERT INTO metrics (…) VALUES (…), (…)` for `rows` rows of 10 parameters (`tags` is the
/// JSON object of the tags).
pub fn metrics_insert(rows: usize) -> String {
    let mut sql = format!("INSERT INTO metrics ({METRIC_COLUMNS}) VALUES ");
    push_tuples(&mut sql, rows, 10);
    sql
}

/// The parameters of [`metrics_insert`] for `entries`, in column order.
pub fn metric_params(entries: &[saker_storage::MetricEntry]) -> Result<Vec<Param>, Error> {
    let mut params = Vec::with_capacity(entries.len() * 10);
    for entry in entries {
        let tags = serde_json::to_string(&entry.tags).map_err(|e| Error::Backend(e.to_string()))?;
        params.extend([
            Param::Text(entry.namespace.clone()),
            Param::Text(entry.flow_id.clone()),
            Param::Text(entry.task_id.clone()),
            Param::Text(entry.execution_id.clone()),
            Param::Text(entry.task_run_id.clone()),
            Param::Text(entry.metric_type.clone()),
            Param::Text(entry.name.clone()),
            Param::Float(entry.value),
            Param::Int(instant_to_db(entry.timestamp)?),
            Param::Text(tags),
        ]);
    }
    Ok(params)
}

/// The metrics of one execution, of one task run and/or one task when given.
pub fn metric_filter(query: &MetricQuery) -> Filter {
    let mut filter = Filter::default();
    let p = filter.bind(Param::Text(query.execution_id.clone()));
    filter.push(format!("execution_id = {p}"));
    if let Some(run) = &query.task_run_id {
        let p = filter.bind(Param::Text(run.clone()));
        filter.push(format!("task_run_id = {p}"));
    }
    if let Some(task) = &query.task_id {
        let p = filter.bind(Param::Text(task.clone()));
        filter.push(format!("task_id = {p}"));
    }
    filter
}

pub const METRIC_NAMES: &str = "SELECT DISTINCT name FROM metrics \
     WHERE namespace = $1 AND flow_id = $2 ORDER BY name";

pub const METRIC_NAMES_OF_TASK: &str = "SELECT DISTINCT name FROM metrics \
     WHERE namespace = $1 AND flow_id = $2 AND task_id = $3 ORDER BY name";

pub const METRIC_TASKS: &str = "SELECT DISTINCT task_id FROM metrics \
     WHERE namespace = $1 AND flow_id = $2 ORDER BY task_id";

pub const METRICS_DELETE: &str = "DELETE FROM metrics WHERE execution_id = $1";

// ----- Triggers

pub const TRIGGER_UPSERT: &str = "INSERT INTO triggers (namespace, flow_id, trigger_id, \
     next_execution_date, disabled, context, lease_owner, lease_until, updated) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (namespace, flow_id, trigger_id) DO UPDATE SET \
     next_execution_date = excluded.next_execution_date, disabled = excluded.disabled, \
     context = excluded.context, lease_owner = excluded.lease_owner, \
     lease_until = excluded.lease_until, updated = excluded.updated";

pub const TRIGGER_GET: &str = "SELECT namespace, flow_id, trigger_id, next_execution_date, \
     disabled, context, lease_owner, lease_until, updated FROM triggers \
     WHERE namespace = $1 AND flow_id = $2 AND trigger_id = $3";

/// Every trigger, or those of namespace `$1` and its children (`$2` = `ns.`, `$3` = `ns/`,
/// the byte range of `ns.*`, which an index can serve).
pub const TRIGGERS_LIST: &str = "SELECT namespace, flow_id, trigger_id, next_execution_date, \
     disabled, context, lease_owner, lease_until, updated FROM triggers \
     WHERE $1 IS NULL OR namespace = $1 OR (namespace > $2 AND namespace < $3) \
     ORDER BY namespace, flow_id, trigger_id";

pub const TRIGGER_DELETE: &str =
    "DELETE FROM triggers WHERE namespace = $1 AND flow_id = $2 AND trigger_id = $3";

/// Takes the lease in one statement, so two schedulers can never both get it: `$4` owner,
/// `$5` until, `$6` now.
pub const TRIGGER_LEASE: &str = "UPDATE triggers SET lease_owner = $4, lease_until = $5 \
     WHERE namespace = $1 AND flow_id = $2 AND trigger_id = $3 \
       AND (lease_owner IS NULL OR lease_until IS NULL OR lease_owner = $4 OR lease_until <= $6) \
     RETURNING namespace, flow_id, trigger_id, next_execution_date, disabled, context, \
       lease_owner, lease_until, updated";

// ----- KV

pub const KV_GET: &str = "SELECT kind, value, description, created, updated, expiration \
     FROM kv WHERE namespace = $1 AND key = $2";

/// Drops an entry only if it is (still) expired at `$3`: a concurrent re-put survives.
pub const KV_DELETE_EXPIRED: &str = "DELETE FROM kv WHERE namespace = $1 AND key = $2 \
     AND expiration IS NOT NULL AND expiration <= $3";

/// Writes an entry unless a live one exists and `$8` (overwrite) is false; a replaced live entry
/// keeps its creation date. Zero rows affected means "already exists".
pub const KV_PUT: &str = "INSERT INTO kv \
     (namespace, key, kind, value, description, created, updated, expiration) \
     VALUES ($1, $2, $3, $4, $5, $6, $6, $7) \
     ON CONFLICT (namespace, key) DO UPDATE SET kind = excluded.kind, value = excluded.value, \
     description = excluded.description, \
     created = CASE WHEN kv.expiration IS NOT NULL AND kv.expiration <= $6 \
                    THEN excluded.created ELSE kv.created END, \
     updated = excluded.updated, expiration = excluded.expiration \
     WHERE $8 OR (kv.expiration IS NOT NULL AND kv.expiration <= $6)";

pub const KV_DELETE: &str = "DELETE FROM kv WHERE namespace = $1 AND key = $2";

pub const KV_LIST: &str = "SELECT key, description, created, updated, expiration FROM kv \
     WHERE namespace = $1 AND (expiration IS NULL OR expiration > $2) ORDER BY key";

pub const KV_LIST_EXPIRED: &str = "SELECT key, description, created, updated, expiration FROM kv \
     WHERE namespace = $1 AND expiration IS NOT NULL AND expiration <= $2 ORDER BY key";

pub const KV_NAMESPACES: &str = "SELECT DISTINCT namespace FROM kv ORDER BY namespace";

// ----- Dynamic queries

/// A bound value of a dynamic query.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Text(String),
    Int(i64),
    Bool(bool),
    Float(f64),
}

/// What differs between dialects in the dynamic queries.
pub trait Dialect {
    /// A condition true when the execution row `e` (its `header` JSON) has a label with key
    /// `$key` and value `$value` (placeholders already numbered).
    fn label_condition(&self, key: &str, value: &str) -> String;

    /// A condition true when the lowercased `column` contains `needle` (a placeholder bound to
    /// an already lowercased string): `instr` on SQLite, `strpos` on PostgreSQL.
    fn contains_lowercase(&self, column: &str, needle: &str) -> String;
}

/// A WHERE clause under construction: conditions joined by AND, with numbered parameters.
#[derive(Debug, Default)]
pub struct Filter {
    conditions: Vec<String>,
    pub params: Vec<Param>,
    /// Sort the filtered rows by `seq` instead of walking the `seq` index: see
    /// [`log_search_filter`].
    sort_after_filter: bool,
}

impl Filter {
    /// Adds a parameter and returns its placeholder.
    pub fn bind(&mut self, param: Param) -> String {
        self.params.push(param);
        format!("${}", self.params.len())
    }

    pub fn push(&mut self, condition: String) {
        self.conditions.push(condition);
    }

    /// The ORDER BY expression of a `seq`-ordered page.
    pub fn seq_order(&self) -> &'static str {
        // `seq + 0` is not the indexed column: the planner cannot walk the primary key in
        // order, so it finds the rows through the filter's index and sorts that page's
        // candidates.
        if self.sort_after_filter {
            "seq + 0"
        } else {
            "seq"
        }
    }

    /// ` WHERE a AND b`, or nothing.
    pub fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// `column` equals the namespace or is one of its children.
    fn namespace(&mut self, column: &str, namespace: &str) {
        let exact = self.bind(Param::Text(namespace.to_owned()));
        let low = self.bind(Param::Text(format!("{namespace}.")));
        let high = self.bind(Param::Text(format!("{namespace}/")));
        self.push(format!(
            "({column} = {exact} OR ({column} > {low} AND {column} < {high}))"
        ));
    }

    /// Case-insensitive substring match on any of `columns`. SQLite's `lower` folds ASCII only,
    /// which covers ids and namespaces; messages with other letters match case-sensitively there.
    fn text(&mut self, dialect: &dyn Dialect, columns: &[&str], text: &str) {
        let needle = self.bind(Param::Text(text.to_lowercase()));
        let any: Vec<String> = columns
            .iter()
            .map(|column| dialect.contains_lowercase(column, &needle))
            .collect();
        self.push(format!("({})", any.join(" OR ")));
    }
}

/// The states a restarted server resumes.
pub fn unfinished_states() -> Vec<StateType> {
    StateType::ALL
        .into_iter()
        .filter(|state| !state.is_terminated())
        .collect()
}

/// `'A', 'B'` for a list of states (their names are fixed identifiers, safe to inline).
pub fn state_list(states: &[StateType]) -> String {
    states
        .iter()
        .map(|state| format!("'{}'", state.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The filter of an execution search over the `executions e` row.
pub fn execution_filter(query: &ExecutionQuery, dialect: &dyn Dialect) -> Result<Filter, Error> {
    let mut filter = Filter::default();
    if let Some(namespace) = &query.namespace {
        filter.namespace("e.namespace", namespace);
    }
    if let Some(flow_id) = &query.flow_id {
        let p = filter.bind(Param::Text(flow_id.clone()));
        filter.push(format!("e.flow_id = {p}"));
    }
    if !query.states.is_empty() {
        filter.push(format!("e.state IN ({})", state_list(&query.states)));
    }
    for Label { key, value } in &query.labels {
        let key = filter.bind(Param::Text(key.clone()));
        let value = filter.bind(Param::Text(value.clone()));
        filter.push(dialect.label_condition(&key, &value));
    }
    if let Some(from) = query.start_from {
        let p = filter.bind(Param::Int(instant_to_db(from)?));
        filter.push(format!("e.start_date >= {p}"));
    }
    if let Some(to) = query.start_to {
        let p = filter.bind(Param::Int(instant_to_db(to)?));
        filter.push(format!("e.start_date < {p}"));
    }
    if let Some(parent) = &query.parent_id {
        let p = filter.bind(Param::Text(parent.clone()));
        filter.push(format!("e.parent_id = {p}"));
    }
    if let Some(text) = &query.text {
        filter.text(dialect, &["e.id", "e.namespace", "e.flow_id"], text);
    }
    if !query.include_deleted {
        filter.push("NOT e.deleted".to_owned());
    }
    Ok(filter)
}

/// The filter of an execution's log lines.
pub fn log_filter(query: &LogFilter) -> Filter {
    let mut filter = Filter::default();
    let p = filter.bind(Param::Text(query.execution_id.clone()));
    filter.push(format!("execution_id = {p}"));
    if let Some(run) = &query.task_run_id {
        let p = filter.bind(Param::Text(run.clone()));
        filter.push(format!("task_run_id = {p}"));
    }
    if !query.task_ids.is_empty() {
        let ids: Vec<String> = query
            .task_ids
            .iter()
            .map(|id| filter.bind(Param::Text(id.clone())))
            .collect();
        filter.push(format!("task_id IN ({})", ids.join(", ")));
    }
    if let Some(min) = query.min_level {
        let p = filter.bind(Param::Int(level_to_db(min)));
        filter.push(format!("level >= {p}"));
    }
    filter
}

/// The filter of a log search across executions.
pub fn log_search_filter(search: &LogSearch, dialect: &dyn Dialect) -> Result<Filter, Error> {
    let mut filter = Filter::default();
    if let Some(namespace) = &search.namespace {
        filter.namespace("namespace", namespace);
    }
    for (column, value) in [
        ("flow_id", &search.flow_id),
        ("execution_id", &search.execution_id),
        ("task_id", &search.task_id),
    ] {
        if let Some(value) = value {
            let p = filter.bind(Param::Text(value.clone()));
            filter.push(format!("{column} = {p}"));
        }
    }
    if let Some(min) = search.min_level {
        let p = filter.bind(Param::Int(level_to_db(min)));
        filter.push(format!("level >= {p}"));
    }
    if let Some(from) = search.from {
        let p = filter.bind(Param::Int(instant_to_db(from)?));
        filter.push(format!("timestamp >= {p}"));
        // The recent lines are at the end of the `seq` order: walking the primary key in
        // order skips every older line first (0.4 s for 1M lines on PostgreSQL), while the
        // time index finds the range and a top-N sort orders it (10-40 ms).
        filter.sort_after_filter = true;
    }
    if let Some(to) = search.to {
        let p = filter.bind(Param::Int(instant_to_db(to)?));
        filter.push(format!("timestamp < {p}"));
    }
    if let Some(text) = &search.text {
        filter.text(dialect, &["message"], text);
    }
    Ok(filter)
}

// ----- Retention

/// The most rows one purge statement deletes: far below every backend's parameter limit (the
/// ids of a batch are bound one per placeholder), and small enough that a batch holds the
/// writer for milliseconds.
pub const MAX_PURGE_BATCH: u32 = 1000;

impl Filter {
    /// `namespace`/`flow_id` columns inside a [`Scope`].
    fn scope(&mut self, scope: &Scope, namespace: &str, flow_id: &str) -> String {
        match &scope.flow_id {
            Some(flow) => {
                let ns = self.bind(Param::Text(scope.namespace.clone()));
                let flow = self.bind(Param::Text(flow.clone()));
                format!("({namespace} = {ns} AND {flow_id} = {flow})")
            }
            None => {
                let exact = self.bind(Param::Text(scope.namespace.clone()));
                let low = self.bind(Param::Text(format!("{}.", scope.namespace)));
                let high = self.bind(Param::Text(format!("{}/", scope.namespace)));
                format!("({namespace} = {exact} OR ({namespace} > {low} AND {namespace} < {high}))")
            }
        }
    }

    fn scopes(&mut self, scope: Option<&Scope>, except: &[Scope], namespace: &str, flow: &str) {
        if let Some(scope) = scope {
            let condition = self.scope(scope, namespace, flow);
            self.push(condition);
        }
        for scope in except {
            let condition = self.scope(scope, namespace, flow);
            self.push(format!("NOT {condition}"));
        }
    }
}

/// The ids (with namespace and flow) of the next `limit` executions a purge deletes, those that
/// ended first first; served by the `executions_by_end` index.
pub fn purge_selection(purge: &ExecutionPurge, limit: u32) -> Result<(String, Vec<Param>), Error> {
    let mut filter = Filter::default();
    let end = filter.bind(Param::Int(instant_to_db(purge.end_before)?));
    filter.push(format!("e.end_date IS NOT NULL AND e.end_date < {end}"));
    let states = purge.purged_states();
    if states.is_empty() {
        filter.push("FALSE".to_owned());
    } else {
        filter.push(format!("e.state IN ({})", state_list(&states)));
    }
    if let Some(from) = purge.start_from {
        let p = filter.bind(Param::Int(instant_to_db(from)?));
        filter.push(format!("e.start_date >= {p}"));
    }
    filter.scopes(
        purge.scope.as_ref(),
        &purge.except,
        "e.namespace",
        "e.flow_id",
    );
    let limit = limit.min(MAX_PURGE_BATCH);
    Ok((
        format!(
            "SELECT e.id, e.namespace, e.flow_id FROM executions e{} \
             ORDER BY e.end_date, e.id LIMIT {limit}",
            filter.where_clause()
        ),
        filter.params,
    ))
}

/// The statements deleting the executions `$1..$count` and what goes with them, children first.
pub fn purge_deletes(purge: &ExecutionPurge, count: usize) -> Vec<String> {
    let ids = placeholders(1, count);
    let mut statements = Vec::new();
    if purge.logs {
        statements.push(format!("DELETE FROM logs WHERE execution_id IN ({ids})"));
    }
    if purge.metrics {
        statements.push(format!("DELETE FROM metrics WHERE execution_id IN ({ids})"));
    }
    statements.push(format!(
        "DELETE FROM task_runs WHERE execution_id IN ({ids})"
    ));
    statements.push(format!("DELETE FROM executions WHERE id IN ({ids})"));
    statements
}

/// One bounded delete of log lines: the oldest `limit` matching `purge`.
pub fn log_purge(purge: &LogPurge, limit: u32) -> Result<(String, Vec<Param>), Error> {
    let mut filter = Filter::default();
    let before = filter.bind(Param::Int(instant_to_db(purge.before)?));
    filter.push(format!("timestamp < {before}"));
    if let Some(from) = purge.from {
        let p = filter.bind(Param::Int(instant_to_db(from)?));
        filter.push(format!("timestamp >= {p}"));
    }
    if !purge.levels.is_empty() {
        let levels: Vec<String> = purge
            .levels
            .iter()
            .map(|level| level_to_db(*level).to_string())
            .collect();
        filter.push(format!("level IN ({})", levels.join(", ")));
    }
    if let Some(id) = &purge.execution_id {
        let p = filter.bind(Param::Text(id.clone()));
        filter.push(format!("execution_id = {p}"));
    }
    filter.scopes(purge.scope.as_ref(), &purge.except, "namespace", "flow_id");
    let limit = limit.min(MAX_PURGE_BATCH);
    Ok((
        format!(
            "DELETE FROM logs WHERE seq IN (SELECT seq FROM logs{} ORDER BY seq LIMIT {limit})",
            filter.where_clause()
        ),
        filter.params,
    ))
}

/// ` LIMIT n OFFSET m` for a page (nothing when the size is 0, "no limit").
pub fn limit_clause(paging: Paging) -> String {
    match paging.window() {
        (_, None) => String::new(),
        (skip, Some(take)) => format!(" LIMIT {take} OFFSET {skip}"),
    }
}

/// `($1, $2), ($3, $4)` for `rows` tuples of `width` placeholders.
fn push_tuples(sql: &mut String, rows: usize, width: usize) {
    use std::fmt::Write;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..width {
            if column > 0 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "${}", row * width + column + 1);
        }
        sql.push(')');
    }
}

/// `$first, $first+1, …` for `count` placeholders.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Json;
    impl Dialect for Json {
        fn label_condition(&self, key: &str, value: &str) -> String {
            format!("has_label({key}, {value})")
        }
        fn contains_lowercase(&self, column: &str, needle: &str) -> String {
            format!("instr(lower({column}), {needle}) > 0")
        }
    }

    #[test]
    fn tuples_are_numbered_across_rows() {
        assert_eq!(
            task_runs_insert(2),
            "INSERT INTO task_runs (execution_id, id, position, value) VALUES \
             ($1, $2, $3, $4), ($5, $6, $7, $8)"
        );
        assert_eq!(placeholders(3, 2), "$3, $4");
    }

    #[test]
    fn execution_filters_number_their_parameters_in_order() {
        let query = ExecutionQuery {
            namespace: Some("io.a".into()),
            labels: vec![Label::new("team", "data")],
            states: vec![StateType::Success],
            text: Some("Sub".into()),
            ..ExecutionQuery::default()
        };
        let filter = execution_filter(&query, &Json).unwrap();
        assert_eq!(
            filter.where_clause(),
            " WHERE (e.namespace = $1 OR (e.namespace > $2 AND e.namespace < $3)) \
             AND e.state IN ('SUCCESS') AND has_label($4, $5) \
             AND (instr(lower(e.id), $6) > 0 OR instr(lower(e.namespace), $6) > 0 \
             OR instr(lower(e.flow_id), $6) > 0) AND NOT e.deleted"
        );
        assert_eq!(filter.params[5], Param::Text("sub".into()));
        assert_eq!(
            limit_clause(Paging { page: 3, size: 10 }),
            " LIMIT 10 OFFSET 20"
        );
        assert_eq!(limit_clause(Paging { page: 1, size: 0 }), "");
    }

    #[test]
    fn unfinished_states_are_the_non_terminated_ones() {
        let states = unfinished_states();
        assert!(states.contains(&StateType::Running));
        assert!(states.contains(&StateType::Paused));
        assert!(!states.contains(&StateType::Success));
    }
}

-- Saker's metadata store, SQLite dialect. Instants are BIGINT nanoseconds since the Unix epoch
-- (exact, ordered, and the same type on PostgreSQL); documents are JSON text.

-- Every revision of every flow; a deleted flow is a last revision with `deleted` set.
CREATE TABLE flows (
    namespace TEXT NOT NULL,
    id        TEXT NOT NULL,
    revision  INTEGER NOT NULL,
    source    TEXT NOT NULL,
    deleted   INTEGER NOT NULL DEFAULT 0,
    updated   TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- The primary key serves the latest-revision lookup (ORDER BY revision DESC LIMIT 1).
    PRIMARY KEY (namespace, id, revision)
);

-- An execution header: the execution's JSON without its task runs, plus the columns searched on.
CREATE TABLE executions (
    id         TEXT PRIMARY KEY NOT NULL,
    namespace  TEXT NOT NULL,
    flow_id    TEXT NOT NULL,
    state      TEXT NOT NULL,
    start_date BIGINT NOT NULL,
    end_date   BIGINT,
    parent_id  TEXT,
    deleted    INTEGER NOT NULL DEFAULT 0,
    header     TEXT NOT NULL
);
CREATE INDEX executions_by_start ON executions (start_date DESC, id);
CREATE INDEX executions_by_flow ON executions (namespace, flow_id, start_date DESC);
CREATE INDEX executions_by_state ON executions (state, start_date);
CREATE INDEX executions_by_parent ON executions (parent_id);

-- One row per task run, so a save rewrites only the runs that changed. `position` is the run's
-- index in the execution's list (runs are only appended or changed in place).
CREATE TABLE task_runs (
    execution_id TEXT NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    id           TEXT NOT NULL,
    position     INTEGER NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (execution_id, id)
);
CREATE INDEX task_runs_in_order ON task_runs (execution_id, position);

-- Log lines; `seq` keeps insertion order and is never reused (AUTOINCREMENT), so a follower's
-- cursor never skips a line written after a deletion.
CREATE TABLE logs (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace      TEXT NOT NULL,
    flow_id        TEXT NOT NULL,
    task_id        TEXT,
    execution_id   TEXT NOT NULL,
    task_run_id    TEXT,
    attempt_number INTEGER,
    timestamp      BIGINT NOT NULL,
    level          INTEGER NOT NULL,
    thread         TEXT NOT NULL,
    message        TEXT NOT NULL
);
CREATE INDEX logs_by_execution ON logs (execution_id, seq);
CREATE INDEX logs_by_time ON logs (timestamp);

-- Trigger state and its lease (a lease expires, so a crashed evaluator never leaves it stuck).
CREATE TABLE triggers (
    namespace           TEXT NOT NULL,
    flow_id             TEXT NOT NULL,
    trigger_id          TEXT NOT NULL,
    next_execution_date BIGINT,
    disabled            INTEGER NOT NULL DEFAULT 0,
    context             TEXT NOT NULL,
    lease_owner         TEXT,
    lease_until         BIGINT,
    updated             BIGINT NOT NULL,
    PRIMARY KEY (namespace, flow_id, trigger_id)
);
CREATE INDEX triggers_by_next ON triggers (next_execution_date);

-- Namespace key-value store: typed value as JSON, optional expiration.
CREATE TABLE kv (
    namespace   TEXT NOT NULL,
    key         TEXT NOT NULL,
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    description TEXT,
    created     BIGINT NOT NULL,
    updated     BIGINT NOT NULL,
    expiration  BIGINT,
    PRIMARY KEY (namespace, key)
);

-- Saker's metadata store, PostgreSQL dialect: the tables of migrations/sqlite/0001_init.sql with
-- PostgreSQL types. Instants are BIGINT nanoseconds since the Unix epoch (exact, and the same
-- values as on SQLite). Documents are TEXT, not JSONB: JSONB reorders object keys, and the
-- execution JSON must come back as written (output maps keep their order); TEXT also costs no
-- parsing on the hot write path. Identifiers are `COLLATE "C"` so that ordering and the
-- namespace range filters (`ns.` < x < `ns/`) follow byte order, as SQLite's BINARY collation,
-- whatever the database's default collation. Migration versions 0001-0049 belong to this store;
-- 0050 and later to the job queue.

-- Every revision of every flow; a deleted flow is a last revision with `deleted` set.
CREATE TABLE flows (
    namespace TEXT COLLATE "C" NOT NULL,
    id        TEXT COLLATE "C" NOT NULL,
    revision  BIGINT NOT NULL,
    source    TEXT NOT NULL,
    deleted   BOOLEAN NOT NULL DEFAULT FALSE,
    updated   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, id, revision)
);

-- An execution header: the execution's JSON without its task runs, plus the columns searched on.
-- `labels` is the header's label list as JSONB for the indexed label filter; it is its own
-- column (not an expression over `header`) so a save that leaves the indexed columns unchanged
-- stays a HOT update (no index writes), which the free space of the fill factor makes room for.
CREATE TABLE executions (
    id         TEXT COLLATE "C" PRIMARY KEY,
    namespace  TEXT COLLATE "C" NOT NULL,
    flow_id    TEXT COLLATE "C" NOT NULL,
    state      TEXT COLLATE "C" NOT NULL,
    start_date BIGINT NOT NULL,
    end_date   BIGINT,
    parent_id  TEXT COLLATE "C",
    deleted    BOOLEAN NOT NULL DEFAULT FALSE,
    labels     JSONB NOT NULL DEFAULT '[]',
    header     TEXT NOT NULL
) WITH (fillfactor = 80);
CREATE INDEX executions_by_start ON executions (start_date DESC, id);
CREATE INDEX executions_by_flow ON executions (namespace, flow_id, start_date DESC);
CREATE INDEX executions_by_state ON executions (state, start_date);
CREATE INDEX executions_by_parent ON executions (parent_id);
CREATE INDEX executions_by_labels ON executions USING GIN (labels jsonb_path_ops);

-- One row per task run, so a save rewrites only the runs that changed. `position` is the run's
-- index in the execution's list (runs are only appended or changed in place).
CREATE TABLE task_runs (
    execution_id TEXT COLLATE "C" NOT NULL REFERENCES executions (id) ON DELETE CASCADE,
    id           TEXT COLLATE "C" NOT NULL,
    position     BIGINT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (execution_id, id)
) WITH (fillfactor = 80);
CREATE INDEX task_runs_in_order ON task_runs (execution_id, position);

-- Log lines; `seq` keeps insertion order and is never reused.
CREATE TABLE logs (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace      TEXT COLLATE "C" NOT NULL,
    flow_id        TEXT COLLATE "C" NOT NULL,
    task_id        TEXT COLLATE "C",
    execution_id   TEXT COLLATE "C" NOT NULL,
    task_run_id    TEXT COLLATE "C",
    attempt_number BIGINT,
    timestamp      BIGINT NOT NULL,
    level          BIGINT NOT NULL,
    thread         TEXT NOT NULL,
    message        TEXT NOT NULL
);
CREATE INDEX logs_by_execution ON logs (execution_id, seq);
CREATE INDEX logs_by_time ON logs (timestamp);
CREATE INDEX logs_by_namespace ON logs (namespace, seq);

-- Trigger state and its lease (a lease expires, so a crashed evaluator never leaves it stuck).
CREATE TABLE triggers (
    namespace           TEXT COLLATE "C" NOT NULL,
    flow_id             TEXT COLLATE "C" NOT NULL,
    trigger_id          TEXT COLLATE "C" NOT NULL,
    next_execution_date BIGINT,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    context             TEXT NOT NULL,
    lease_owner         TEXT,
    lease_until         BIGINT,
    updated             BIGINT NOT NULL,
    PRIMARY KEY (namespace, flow_id, trigger_id)
);
CREATE INDEX triggers_by_next ON triggers (next_execution_date);

-- Namespace key-value store: typed value as JSON text, optional expiration.
CREATE TABLE kv (
    namespace   TEXT COLLATE "C" NOT NULL,
    key         TEXT COLLATE "C" NOT NULL,
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    description TEXT,
    created     BIGINT NOT NULL,
    updated     BIGINT NOT NULL,
    expiration  BIGINT,
    PRIMARY KEY (namespace, key)
);

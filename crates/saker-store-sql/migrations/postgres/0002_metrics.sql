-- Task metrics (counters, timers in milliseconds, gauges); `seq` keeps insertion order.
CREATE TABLE metrics (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace    TEXT COLLATE "C" NOT NULL,
    flow_id      TEXT COLLATE "C" NOT NULL,
    task_id      TEXT COLLATE "C" NOT NULL,
    execution_id TEXT COLLATE "C" NOT NULL,
    task_run_id  TEXT COLLATE "C" NOT NULL,
    type         TEXT NOT NULL,
    name         TEXT COLLATE "C" NOT NULL,
    value        DOUBLE PRECISION NOT NULL,
    timestamp    BIGINT NOT NULL,
    tags         TEXT NOT NULL
);
CREATE INDEX metrics_by_execution ON metrics (execution_id, seq);
CREATE INDEX metrics_by_flow ON metrics (namespace, flow_id, task_id, name);

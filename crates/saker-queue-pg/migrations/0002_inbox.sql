-- Several executors on one database: each execution has at most one owner (an executor and a
-- lease end); messages to an execution wait in the inbox until its owner (or, when it has none
-- or its lease ended, any executor, which becomes the owner) claims them.
CREATE TABLE IF NOT EXISTS saker_executors (
    id           TEXT PRIMARY KEY,
    hostname     TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS saker_execution_owners (
    execution_id TEXT PRIMARY KEY,
    executor_id  TEXT NOT NULL,
    lease_until  TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS saker_execution_owners_executor
    ON saker_execution_owners (executor_id);
CREATE INDEX IF NOT EXISTS saker_execution_owners_lease
    ON saker_execution_owners (lease_until);

-- Deleted when claimed: the inbox only holds messages not yet taken.
CREATE TABLE IF NOT EXISTS saker_inbox (
    seq          BIGSERIAL PRIMARY KEY,
    execution_id TEXT NOT NULL,
    payload      TEXT NOT NULL
);

DROP TRIGGER IF EXISTS saker_inbox_notify ON saker_inbox;
CREATE TRIGGER saker_inbox_notify AFTER INSERT ON saker_inbox
    FOR EACH STATEMENT EXECUTE FUNCTION saker_queue_notify('saker_inbox');

-- Worker reports go to the owner of their execution.
ALTER TABLE saker_queue_reports ADD COLUMN IF NOT EXISTS execution_id TEXT;
CREATE INDEX IF NOT EXISTS saker_queue_reports_execution
    ON saker_queue_reports (execution_id);

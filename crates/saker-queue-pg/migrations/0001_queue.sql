-- The worker job queue. Rows only live while work is in flight: a job row is deleted when its
-- final report is queued, a report row when the executor takes it.
CREATE TABLE IF NOT EXISTS saker_queue_jobs (
    id          BIGSERIAL PRIMARY KEY,
    -- One job per task run attempt in flight: an executor re-dispatching after a restart does
    -- not queue it twice.
    task_run_id TEXT NOT NULL UNIQUE,
    execution_id TEXT NOT NULL,
    payload     TEXT NOT NULL,
    -- The current claim: its holder and the end of its lease (NULL: never claimed).
    owner       TEXT,
    lease_until TIMESTAMPTZ,
    claims      INTEGER NOT NULL DEFAULT 0,
    killed      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS saker_queue_reports (
    id      BIGSERIAL PRIMARY KEY,
    payload TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS saker_workers (
    id           TEXT PRIMARY KEY,
    hostname     TEXT NOT NULL,
    threads      INTEGER NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Wake-ups: one notification per statement (PostgreSQL folds identical ones in a transaction),
-- sent at commit, so a listener never looks before the row is visible.
CREATE OR REPLACE FUNCTION saker_queue_notify() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS saker_queue_jobs_notify ON saker_queue_jobs;
CREATE TRIGGER saker_queue_jobs_notify AFTER INSERT ON saker_queue_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION saker_queue_notify('saker_queue_jobs');

DROP TRIGGER IF EXISTS saker_queue_kills_notify ON saker_queue_jobs;
CREATE TRIGGER saker_queue_kills_notify AFTER UPDATE OF killed ON saker_queue_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION saker_queue_notify('saker_queue_kills');

DROP TRIGGER IF EXISTS saker_queue_reports_notify ON saker_queue_reports;
CREATE TRIGGER saker_queue_reports_notify AFTER INSERT ON saker_queue_reports
    FOR EACH STATEMENT EXECUTE FUNCTION saker_queue_notify('saker_queue_reports');

-- A claimed message stays in the inbox, marked with its claimer, until the claimer
-- acknowledges it (the change it caused is committed): a take-over finds it again.
ALTER TABLE saker_inbox ADD COLUMN IF NOT EXISTS claimed_by TEXT;
CREATE INDEX IF NOT EXISTS saker_inbox_execution ON saker_inbox (execution_id);

-- Flow concurrency slots, counted for the whole cluster: one row per execution holding a slot
-- (running) or waiting for one (queued, in seq order).
CREATE TABLE IF NOT EXISTS saker_concurrency_slots (
    execution_id TEXT PRIMARY KEY,
    namespace    TEXT NOT NULL,
    flow_id      TEXT NOT NULL,
    running      BOOLEAN NOT NULL,
    seq          BIGSERIAL NOT NULL
);
CREATE INDEX IF NOT EXISTS saker_concurrency_slots_flow
    ON saker_concurrency_slots (namespace, flow_id, running, seq);

-- Every slot operation of a flow runs under one transaction-scoped advisory lock (in its own
-- two-key space), so two executors admitting at once are serialized and the count each sees
-- includes the other's committed slot. mode: 'queue', 'refuse' or 'force'; returns 'running',
-- 'queued' or 'full'.
CREATE OR REPLACE FUNCTION saker_take_slot(ns TEXT, flow TEXT, exec_id TEXT, lim INTEGER, mode TEXT)
RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    held BOOLEAN;
    used BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(1935765105, hashtext(ns || '/' || flow));
    SELECT running INTO held FROM saker_concurrency_slots WHERE execution_id = exec_id;
    IF FOUND THEN
        IF mode = 'force' AND NOT held THEN
            UPDATE saker_concurrency_slots SET running = TRUE WHERE execution_id = exec_id;
            RETURN 'running';
        END IF;
        RETURN CASE WHEN held THEN 'running' ELSE 'queued' END;
    END IF;
    IF mode <> 'force' THEN
        SELECT count(*) INTO used FROM saker_concurrency_slots
            WHERE namespace = ns AND flow_id = flow AND running;
        IF used >= lim THEN
            IF mode = 'queue' THEN
                INSERT INTO saker_concurrency_slots (execution_id, namespace, flow_id, running)
                    VALUES (exec_id, ns, flow, FALSE);
                RETURN 'queued';
            END IF;
            RETURN 'full';
        END IF;
    END IF;
    INSERT INTO saker_concurrency_slots (execution_id, namespace, flow_id, running)
        VALUES (exec_id, ns, flow, TRUE);
    RETURN 'running';
END
$$;

-- Frees the slot (or queue place) of an ended execution and gives the free slots to the
-- oldest queued executions, posting `message` to each one's inbox in the same transaction.
CREATE OR REPLACE FUNCTION saker_free_slot(ns TEXT, flow TEXT, exec_id TEXT, lim INTEGER, message TEXT)
RETURNS SETOF TEXT LANGUAGE plpgsql AS $$
DECLARE
    used BIGINT;
    oldest TEXT;
BEGIN
    PERFORM pg_advisory_xact_lock(1935765105, hashtext(ns || '/' || flow));
    DELETE FROM saker_concurrency_slots WHERE execution_id = exec_id;
    SELECT count(*) INTO used FROM saker_concurrency_slots
        WHERE namespace = ns AND flow_id = flow AND running;
    WHILE used < lim LOOP
        SELECT execution_id INTO oldest FROM saker_concurrency_slots
            WHERE namespace = ns AND flow_id = flow AND NOT running ORDER BY seq LIMIT 1;
        EXIT WHEN NOT FOUND;
        UPDATE saker_concurrency_slots SET running = TRUE WHERE execution_id = oldest;
        INSERT INTO saker_inbox (execution_id, payload) VALUES (oldest, message);
        used := used + 1;
        RETURN NEXT oldest;
    END LOOP;
END
$$;

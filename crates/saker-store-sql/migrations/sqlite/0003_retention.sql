-- Retention and the default-dated searches (issue 6).
-- The retention job takes ended executions in end-date order; only ended ones have an end date.
CREATE INDEX executions_by_end ON executions (end_date) WHERE end_date IS NOT NULL;
-- The log search by namespace (PostgreSQL had it from the start).
CREATE INDEX logs_by_namespace ON logs (namespace, seq);

-- Retention (issue 6): the retention job takes ended executions in end-date order; only ended
-- ones have an end date.
CREATE INDEX executions_by_end ON executions (end_date) WHERE end_date IS NOT NULL;

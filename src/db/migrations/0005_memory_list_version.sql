-- The list sequence of a context: raised by every statement that adds, updates or deletes one
-- of its memories (in that statement, after locking the context's row, so writes to one
-- context take turns and each commits its own value). Cached pages of a context's memories are
-- keyed by it, so a write makes every older page unreachable at once, with no time window.
ALTER TABLE contexts ADD COLUMN list_version bigint NOT NULL DEFAULT 0;

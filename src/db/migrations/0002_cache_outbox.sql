-- The durable side of cache invalidation (see src/cache/invalidation-log.ts).
--
-- cache_outbox: every write records what it changed here, in the same statement as the write.
-- A row is deleted once Redis has acknowledged its invalidation; until then any instance may
-- replay it, and does so before it uses Redis again after a fault.
CREATE TABLE cache_outbox (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  change     jsonb NOT NULL,
  created_at timestamptz NOT NULL
);

-- cache_log: the generation of the data Redis holds for this database, and the highest log
-- position Redis acknowledged whose outbox row was then deleted. A Redis whose log is of
-- another generation, or behind that position, lost or rolled back data (a flush, a restart
-- from an older snapshot, a failover to a lagging replica): it is treated as cold.
CREATE TABLE cache_log (
  singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  generation     text NOT NULL,
  acked_position bigint NOT NULL
);
INSERT INTO cache_log (generation, acked_position) VALUES ('', 0);

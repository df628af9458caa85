-- API keys for programmatic clients (see src/auth/api-keys.ts). A key is shown once as
-- `rk_<prefix>_<secret>`; only the sha256 of the whole token is kept (secret_hash), and the
-- prefix, which names the key in lists and logs, is unique so that a label never names two keys.
CREATE TABLE api_keys (
  id           text PRIMARY KEY,
  user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         text NOT NULL,
  prefix       text NOT NULL UNIQUE,
  secret_hash  text NOT NULL UNIQUE,
  scopes       text[] NOT NULL CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['MEMORY_READ', 'MEMORY_WRITE', 'ADMIN']),
  created_at   timestamptz NOT NULL,
  last_used_at timestamptz,
  expires_at   timestamptz,
  revoked_at   timestamptz
);
-- A user's keys, newest first (ids sort by creation time).
CREATE INDEX api_keys_user_idx ON api_keys (user_id, id DESC);

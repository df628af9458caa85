-- Every deletion of a user records its change in the outbox, however it is made: through
-- deleteAccount or deleteUser, or by hand in SQL. The change names the user's live sessions and
-- API keys (read before the cascade removes them), so that any instance replaying the outbox
-- ends them in every cache: a deleted user's token is refused, never half-served.
-- `SET search_path FROM CURRENT` keeps the function on this schema's tables whatever the
-- search path of the session that deletes.
CREATE FUNCTION recall_record_user_deletion() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path FROM CURRENT
AS $$
BEGIN
  INSERT INTO cache_outbox (change, created_at)
  VALUES (
    jsonb_build_object(
      'reason', 'USER_DELETED',
      'ownerId', OLD.id,
      'contextId', NULL,
      'memories', '[]'::jsonb,
      'context', NULL,
      'user', jsonb_build_object('id', OLD.id, 'version', OLD.version + 1, 'gone', true),
      'sessions', coalesce((SELECT jsonb_agg(jsonb_build_object('id', s.id, 'tokenHash', s.token_hash))
                            FROM sessions s WHERE s.user_id = OLD.id AND s.revoked_at IS NULL), '[]'::jsonb),
      'apiKeys', coalesce((SELECT jsonb_agg(jsonb_build_object('id', k.id, 'secretHash', k.secret_hash))
                           FROM api_keys k WHERE k.user_id = OLD.id AND k.revoked_at IS NULL), '[]'::jsonb)
    ),
    now()
  );
  RETURN OLD;
END
$$;

CREATE TRIGGER users_record_deletion BEFORE DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION recall_record_user_deletion();

-- Stores a value read from the source at KEYS[1] = ARGV[1] for ARGV[3] ms, unless the read may
-- be older than what the cache already knows: the stored envelope carries a version above
-- ARGV[2], or the entity was invalidated (KEYS[3] holds that position) after ARGV[5], the log
-- position the read began at, or this Redis is of another generation than ARGV[4], the one the
-- read began in (a flush or a rollback may have taken a guard away). KEYS[2] is the log hash.
-- Returns 1 when written, 0 when refused as older, -1 when refused for its generation.
if redis.call('HGET', KEYS[2], 'gen') ~= ARGV[4] then
  return -1
end
local invalidated = redis.call('GET', KEYS[3])
if invalidated and tonumber(invalidated) > tonumber(ARGV[5]) then
  return 0
end
local current = redis.call('GET', KEYS[1])
if current then
  local stored = tonumber(string.match(current, '^%d+|%a|(%d+)|'))
  if stored and stored > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1

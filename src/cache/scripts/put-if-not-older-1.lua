-- Writes KEYS[1] = ARGV[1] with a TTL of ARGV[3] ms, unless the stored envelope carries a
-- version above ARGV[2]. A reader holding an old row therefore cannot put it back over a
-- newer value or the tombstone an invalidation left. Returns 1 when written, 0 when refused.
local current = redis.call('GET', KEYS[1])
if current then
  local stored = tonumber(string.match(current, '^%d+|%a|(%d+)|'))
  if stored and stored > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1

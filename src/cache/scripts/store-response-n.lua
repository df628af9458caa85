-- Stores a response unless the data it was computed from may be older than an invalidation.
-- KEYS[1] = the log hash; KEYS[2] = the response; then T tag sets; then the T tag positions.
-- ARGV[1] = the generation and ARGV[2] = the log position its request began at; ARGV[3] = the
-- response; ARGV[4] = its TTL (ms); ARGV[5] = T.
-- Returns 1 when stored, 0 when one of its tags was invalidated after that position, and -1
-- when this Redis is of another generation (its guards may be lost).
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then
  return -1
end
local since = tonumber(ARGV[2])
local tags = tonumber(ARGV[5])
for i = 1, tags do
  local at = redis.call('GET', KEYS[2 + tags + i])
  if at and tonumber(at) > since then
    return 0
  end
end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
for i = 1, tags do
  local set = KEYS[2 + i]
  redis.call('SADD', set, KEYS[2])
  -- A tag set lives as long as the longest-lived response in it, and no longer.
  redis.call('PEXPIRE', set, ARGV[4], 'NX')
  redis.call('PEXPIRE', set, ARGV[4], 'GT')
end
return 1

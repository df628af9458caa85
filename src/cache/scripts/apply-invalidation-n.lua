-- Applies one write's invalidation atomically and publishes it, in log order, to every instance.
-- KEYS[1] = the log hash (gen, pos); then E entity keys; then the E matching entity positions;
-- then T response tag sets; then the T matching tag positions.
-- ARGV[1] = the generation the caller synced with; ARGV[2] = E; ARGV[3] = T; ARGV[4] = the
-- channel; ARGV[5] = how long a position is kept (ms); ARGV[6] = the message for the instances
-- (JSON); then, per entity key, its value, version and TTL (ms).
-- Returns the log position of this invalidation, or -1, having changed nothing, when this Redis
-- is of another generation than the caller's (it lost or rolled back data since): the caller
-- must sync first.
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then
  return -1
end
local pos = redis.call('HINCRBY', KEYS[1], 'pos', 1)
-- Lua would print a large number as 1.7e+15: positions are written as the integers they are.
local position = string.format('%d', pos)
local entities = tonumber(ARGV[2])
local tags = tonumber(ARGV[3])
for i = 1, entities do
  local key = KEYS[1 + i]
  local version = tonumber(ARGV[5 + 3 * i])
  local current = redis.call('GET', key)
  local stored = current and tonumber(string.match(current, '^%d+|%a|(%d+)|'))
  -- Equal versions replace each other: a write-through value supersedes its own tombstone.
  if not stored or stored <= version then
    redis.call('SET', key, ARGV[4 + 3 * i], 'PX', ARGV[6 + 3 * i])
  end
  redis.call('SET', KEYS[1 + entities + i], position, 'PX', ARGV[5])
end
local first = 1 + 2 * entities
for i = 1, tags do
  local set = KEYS[first + i]
  redis.call('SET', KEYS[first + tags + i], position, 'PX', ARGV[5])
  local members = redis.call('SMEMBERS', set)
  for from = 1, #members, 500 do
    redis.call('UNLINK', unpack(members, from, math.min(from + 499, #members)))
  end
  redis.call('UNLINK', set)
end
redis.call('PUBLISH', ARGV[4], position .. ' ' .. ARGV[1] .. ' ' .. ARGV[6])
return pos

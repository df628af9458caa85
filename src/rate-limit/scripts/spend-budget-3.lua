-- One operation against a sliding-window budget, atomically, and the invalidation log's
-- generation and position as of this instant (the request's read position: it costs no round
-- trip of its own). KEYS[1] counts the current fixed window, KEYS[2] the previous one, KEYS[3]
-- is the log hash. The window slides by weighing the previous count by how much of it still
-- overlaps (ARGV[3], 0..1). ARGV[1] = limit (0: count nothing, for callers without a budget),
-- ARGV[2] = window length in ms.
-- Returns {allowed (1/0), operations counted in the sliding window, generation, position}.
local log = redis.call('HMGET', KEYS[3], 'gen', 'pos')
local gen = log[1] or ''
local pos = tonumber(log[2] or '0')
local limit = tonumber(ARGV[1])
if limit == 0 then
  return {1, 0, gen, pos}
end
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local used = math.floor(previous * tonumber(ARGV[3])) + current
if used >= limit then
  return {0, used, gen, pos}
end
redis.call('INCR', KEYS[1])
if current == 0 then
  redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
end
return {1, used + 1, gen, pos}

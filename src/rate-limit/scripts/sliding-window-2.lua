-- One operation against a sliding-window budget, atomically. KEYS[1] counts the current fixed
-- window, KEYS[2] the previous one; the window slides by weighing the previous count by how much
-- of it still overlaps (ARGV[3], 0..1). ARGV[1] = limit, ARGV[2] = window length in ms.
-- Returns {allowed (1/0), operations counted in the sliding window}.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local used = math.floor(previous * tonumber(ARGV[3])) + current
if used >= tonumber(ARGV[1]) then
  return {0, used}
end
redis.call('INCR', KEYS[1])
if current == 0 then
  redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
end
return {1, used + 1}

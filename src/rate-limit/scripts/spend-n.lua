-- Every limit an operation is subject to, decided at once and atomically: its budget (in cost
-- points) and the calls of its rate-limited fields; and the invalidation log's generation and
-- position as of this instant (the request's read position: it costs no round trip of its own).
--
-- KEYS[1], KEYS[2]: the budget's current and previous fixed windows (the window slides by
-- weighing the previous count by how much of it still overlaps). KEYS[3]: the log hash.
-- KEYS[4..]: one sorted set per field limit, a sliding log of the calls it let through.
-- ARGV: budget limit (0: no budget), budget window ms, previous-window weight (0..1), points,
-- now ms, a member prefix unique to this operation, refuse-all flag (1: when every call is
-- refused, refuse the operation and spend nothing), then the field limits: their count L, L
-- pairs (max, window ms) in KEYS order, the count G of call groups, and per group: calls
-- wanted, its number of limits, and their indexes (1-based, among the field limits).
--
-- A group is granted as many calls as every one of its limits still has room for; refused
-- calls are not counted, so a caller who waits is let in again.
-- Returns {budget allowed (1/0), budget used after (or before, when refused), generation,
-- position, operation refused by its limits (1/0), the budget's current and previous window
-- counts (before this operation: when it has room again follows from them), then per group:
-- granted, ms until a call has room again (0 when all were granted)}.
local log = redis.call('HMGET', KEYS[3], 'gen', 'pos')
local gen = log[1] or ''
local pos = tonumber(log[2] or '0')
local limit = tonumber(ARGV[1])
local points = tonumber(ARGV[4])
local now = tonumber(ARGV[5])

local used = 0
local current = 0
local previous = 0
if limit > 0 then
  current = tonumber(redis.call('GET', KEYS[1]) or '0')
  previous = tonumber(redis.call('GET', KEYS[2]) or '0')
  used = math.floor(previous * tonumber(ARGV[3])) + current
  if used + points > limit then
    return {0, used, gen, pos, 0, current, previous}
  end
end

local nLimits = tonumber(ARGV[8])
local room = {}
local windows = {}
for i = 1, nLimits do
  local max = tonumber(ARGV[7 + 2 * i])
  windows[i] = tonumber(ARGV[8 + 2 * i])
  local key = KEYS[3 + i]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - windows[i])
  room[i] = max - redis.call('ZCARD', key)
end

local at = 9 + 2 * nLimits
local nGroups = tonumber(ARGV[at])
at = at + 1
local grants = {}
local anyGranted = false
for g = 1, nGroups do
  local wanted = tonumber(ARGV[at])
  local n = tonumber(ARGV[at + 1])
  local granted = wanted
  for j = 1, n do
    local i = tonumber(ARGV[at + 1 + j])
    if room[i] < granted then granted = math.max(0, room[i]) end
  end
  local wait = 0
  for j = 1, n do
    local i = tonumber(ARGV[at + 1 + j])
    room[i] = room[i] - granted
    if granted < wanted and room[i] <= 0 then
      -- The oldest call still counted leaves the window first (calls granted now are the newest).
      local oldest = redis.call('ZRANGE', KEYS[3 + i], 0, 0, 'WITHSCORES')
      local frees = oldest[2] and (tonumber(oldest[2]) + windows[i] - now) or windows[i]
      if frees > wait then wait = frees end
    end
  end
  grants[g] = {granted, wait, n, at}
  if granted > 0 then anyGranted = true end
  at = at + 2 + n
end

if ARGV[7] == '1' and nGroups > 0 and not anyGranted then
  local out = {1, used, gen, pos, 1, current, previous}
  for g = 1, nGroups do
    out[#out + 1] = 0
    out[#out + 1] = grants[g][2]
  end
  return out
end

if limit > 0 then
  redis.call('INCRBY', KEYS[1], points)
  if current == 0 then
    redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
  end
  used = used + points
end

local out = {1, used, gen, pos, 0, current, previous}
for g = 1, nGroups do
  local granted, wait, n, first = grants[g][1], grants[g][2], grants[g][3], grants[g][4]
  for j = 1, n do
    local i = tonumber(ARGV[first + 1 + j])
    local key = KEYS[3 + i]
    for c = 1, granted do
      redis.call('ZADD', key, now, ARGV[6] .. ':' .. g .. ':' .. c)
    end
    if granted > 0 then redis.call('PEXPIRE', key, windows[i]) end
  end
  out[#out + 1] = granted
  out[#out + 1] = wait
end
return out

-- Every limit of a batch of operations, decided atomically, one operation after another in the
-- order given (each sees what those before it spent, exactly as if it had had a call of its own):
-- per operation, its budget (in cost points) and the calls of its rate-limited fields; and the
-- invalidation log's generation and position as of this instant (each request's read position:
-- it costs no round trip of its own).
--
-- KEYS[1]: the log hash. Then per operation, in order: its budget's current and previous fixed
-- windows (the window slides by weighing the previous count by how much of it still overlaps),
-- and one sorted set per field limit, a sliding log of the calls it let through.
-- ARGV[1]: the number of operations. Then per operation: budget limit (0: no budget), budget
-- window ms, previous-window weight (0..1), points, now ms, a member prefix unique to the
-- operation, refuse-all flag (1: when every call is refused, refuse the operation and spend
-- nothing), then the field limits: their count L, L pairs (max, window ms) in KEYS order, the
-- count G of call groups, and per group: calls wanted, its number of limits, and their indexes
-- (1-based, among the operation's field limits).
--
-- A group is granted as many calls as every one of its limits still has room for; refused
-- calls are not counted, so a caller who waits is let in again.
-- Returns {generation, position, then per operation: budget allowed (1/0), budget used after
-- (or before, when refused), operation refused by its limits (1/0), the budget's current and
-- previous window counts (before this operation: when it has room again follows from them), the
-- number of groups answered (0 when the budget refused), and per group: granted, ms until a
-- call has room again (0 when all were granted)}.
local log = redis.call('HMGET', KEYS[1], 'gen', 'pos')
local out = {log[1] or '', tonumber(log[2] or '0')}

local function answer(allowed, used, refused, current, previous, grants)
  out[#out + 1] = allowed
  out[#out + 1] = used
  out[#out + 1] = refused
  out[#out + 1] = current
  out[#out + 1] = previous
  out[#out + 1] = #grants
  for _, grant in ipairs(grants) do
    out[#out + 1] = grant[1]
    out[#out + 1] = grant[2]
  end
end

-- Decides the operation whose keys start at KEYS[k] and arguments at ARGV[a]; returns where the
-- next operation's keys and arguments start.
local function decide(k, a)
  local limit = tonumber(ARGV[a])
  local points = tonumber(ARGV[a + 3])
  local now = tonumber(ARGV[a + 4])
  local nLimits = tonumber(ARGV[a + 7])
  local groupsAt = a + 8 + 2 * nLimits
  local nGroups = tonumber(ARGV[groupsAt])
  local starts = {}
  local at = groupsAt + 1
  for g = 1, nGroups do
    starts[g] = at
    at = at + 2 + tonumber(ARGV[at + 1])
  end
  local nextK, nextA = k + 2 + nLimits, at

  local used = 0
  local current = 0
  local previous = 0
  if limit > 0 then
    local counts = redis.call('MGET', KEYS[k], KEYS[k + 1])
    current = tonumber(counts[1] or '0')
    previous = tonumber(counts[2] or '0')
    used = math.floor(previous * tonumber(ARGV[a + 2])) + current
    if used + points > limit then
      answer(0, used, 0, current, previous, {})
      return nextK, nextA
    end
  end

  local room = {}
  local windows = {}
  for i = 1, nLimits do
    local key = KEYS[k + 1 + i]
    windows[i] = tonumber(ARGV[a + 7 + 2 * i])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - windows[i])
    room[i] = tonumber(ARGV[a + 6 + 2 * i]) - redis.call('ZCARD', key)
  end

  local grants = {}
  local anyGranted = false
  for g = 1, nGroups do
    local wanted = tonumber(ARGV[starts[g]])
    local n = tonumber(ARGV[starts[g] + 1])
    local granted = wanted
    for j = 1, n do
      local i = tonumber(ARGV[starts[g] + 1 + j])
      if room[i] < granted then granted = math.max(0, room[i]) end
    end
    local wait = 0
    for j = 1, n do
      local i = tonumber(ARGV[starts[g] + 1 + j])
      room[i] = room[i] - granted
      if granted < wanted and room[i] <= 0 then
        -- The oldest call still counted leaves the window first (calls granted now are the newest).
        local oldest = redis.call('ZRANGE', KEYS[k + 1 + i], 0, 0, 'WITHSCORES')
        local frees = oldest[2] and (tonumber(oldest[2]) + windows[i] - now) or windows[i]
        if frees > wait then wait = frees end
      end
    end
    grants[g] = {granted, wait}
    if granted > 0 then anyGranted = true end
  end

  if ARGV[a + 6] == '1' and nGroups > 0 and not anyGranted then
    answer(1, used, 1, current, previous, grants)
    return nextK, nextA
  end

  if limit > 0 then
    redis.call('INCRBY', KEYS[k], points)
    if current == 0 then
      redis.call('PEXPIRE', KEYS[k], 2 * tonumber(ARGV[a + 1]))
    end
    used = used + points
  end

  for g = 1, nGroups do
    local granted = grants[g][1]
    local n = tonumber(ARGV[starts[g] + 1])
    for j = 1, n do
      local i = tonumber(ARGV[starts[g] + 1 + j])
      local key = KEYS[k + 1 + i]
      for c = 1, granted do
        redis.call('ZADD', key, now, ARGV[a + 5] .. ':' .. g .. ':' .. c)
      end
      if granted > 0 then redis.call('PEXPIRE', key, windows[i]) end
    end
  end
  answer(1, used, 0, current, previous, grants)
  return nextK, nextA
end

local k, a = 2, 2
for _ = 1, tonumber(ARGV[1]) do
  k, a = decide(k, a)
end
return out

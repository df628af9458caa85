-- Takes one of a caller's subscription slots, atomically, so that concurrent attempts on any
-- number of instances admit exactly the cap. KEYS[1] is the caller's sorted set: one member per
-- subscription held (`<instance>:<subscription>`), scored by the expiry of its lease in ms.
-- ARGV[1] = now (ms), ARGV[2] = lease (ms), ARGV[3] = the cap, ARGV[4] = the new member.
-- Members whose lease has run out belong to an instance that stopped renewing them (it crashed):
-- they are dropped before counting.
-- Returns 1 when the slot was taken, 0 when the caller holds the cap already.
local now = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local held = redis.call('ZCARD', KEYS[1])
if held >= tonumber(ARGV[3]) then
  return 0
end
-- %d: Lua would print a time in ms as 1.7e+12.
redis.call('ZADD', KEYS[1], string.format('%d', now + lease), ARGV[4])
-- The set goes when its last lease would have: renewals push this back.
redis.call('PEXPIRE', KEYS[1], lease)
return 1

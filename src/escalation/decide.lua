-- A decision on an escalation, as a compare-and-set: it applies only while
-- the entry is still pending, so of two replicas deciding at once (or a
-- person approving as the hold times out) exactly one wins.
--
-- KEYS[1] the entry   KEYS[2] the pending set   KEYS[3] the approval key
-- ARGV[1] the decided entry (JSON)   ARGV[2] its lifetime in ms (0: none)
-- ARGV[3] the approval's lifetime in ms (0: no approval key)
-- ARGV[4] the entry id   ARGV[5] the events channel
-- Returns {1} decided, {0} no such entry, {2, current} no longer pending.
local current = redis.call('GET', KEYS[1])
if not current then
  return {0}
end
if cjson.decode(current)['status'] ~= 'pending' then
  return {2, current}
end
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('ZREM', KEYS[2], ARGV[4])
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[3])
end
redis.call('PUBLISH', ARGV[5], ARGV[1])
return {1}

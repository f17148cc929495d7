-- The shared gate step, atomic: an optional single-use nonce, then GCRA
-- over up to a few rate-limit buckets, all or nothing.
--
-- KEYS[1..n]  bucket keys (each holds its theoretical arrival time, in ms)
-- KEYS[n+1]   the nonce key, when ARGV[2] > 0
-- ARGV[1]     n
-- ARGV[2]     nonce lifetime in ms (0: no nonce)
-- ARGV[3]     the window in ms
-- ARGV[3+i]   bucket i's limit (requests per window)
--
-- Returns {status, limit, remaining, reset_ms, retry_ms}: status 0 admitted
-- (the tightest bucket's numbers), 1 nonce replayed, 2 rate limited (the
-- refusing bucket's numbers). Time is Redis's own, so replicas agree.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = tonumber(ARGV[1])
local nonce_ttl = tonumber(ARGV[2])
local window = tonumber(ARGV[3])

if nonce_ttl > 0 and redis.call('EXISTS', KEYS[n + 1]) == 1 then
  return {1, 0, 0, 0, 0}
end

local best = {0, 0, -1, 0, 0}
local tats = {}
for i = 1, n do
  local limit = tonumber(ARGV[3 + i])
  local interval = window / limit
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - window
  if now < allow_at then
    return {2, limit, 0, math.ceil(tat - now), math.ceil(allow_at - now)}
  end
  tats[i] = new_tat
  local remaining = math.floor((now - allow_at) / interval + 1e-9)
  if best[3] < 0 or remaining < best[3] then
    best = {0, limit, remaining, math.ceil(new_tat - now), 0}
  end
end

for i = 1, n do
  -- At least 1 ms: with a tiny interval, now + interval can round to now.
  local ttl = math.max(1, math.ceil(tats[i] - now))
  redis.call('SET', KEYS[i], string.format('%.3f', tats[i]), 'PX', ttl)
end
if nonce_ttl > 0 then
  redis.call('SET', KEYS[n + 1], '1', 'PX', nonce_ttl)
end
if best[3] < 0 then best[3] = 0 end
return best

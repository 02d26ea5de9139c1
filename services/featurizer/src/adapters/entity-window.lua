-- One event into its entity's windows, and the windows read back, in one call.
-- KEYS[1]: the entity's key base (its hash tag keeps every key of the entity in one slot)
-- ARGV: t, eventId, weight, flags, user, urlPath, destination, windowMs, keepMs, ttlSeconds, bucketMinutes
-- flags: a string of 0/1 for auth, fail, inval, http, h4, h5
local base = KEYS[1]
local t = tonumber(ARGV[1])
local id = ARGV[2]
local weight = tonumber(ARGV[3])
local flags = ARGV[4]
local windowMs = tonumber(ARGV[8])
local keepMs = tonumber(ARGV[9])
local ttl = tonumber(ARGV[10])
local buckets = tonumber(ARGV[11])

local function add(set)
  local key = base .. ':' .. set
  redis.call('ZADD', key, t, id)
  for r = 1, weight - 1 do redis.call('ZADD', key, t, id .. '#' .. r) end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (t - keepMs))
  redis.call('EXPIRE', key, ttl)
end
add('ev')
local sets = { 'auth', 'fail', 'inval', 'http', 'h4', 'h5' }
for i = 1, 6 do
  if string.sub(flags, i, i) == '1' then add(sets[i]) end
end

local minute = math.floor(t / 60000)
local function pfadd(kind, value)
  if value == '' then return end
  local key = base .. ':' .. kind .. ':' .. minute
  redis.call('PFADD', key, value)
  redis.call('EXPIRE', key, ttl)
end
pfadd('users', ARGV[5])
pfadd('paths', ARGV[6])
pfadd('dst', ARGV[7])

local from = t - windowMs
local function count(set, since) return redis.call('ZCOUNT', base .. ':' .. set, since, t) end
local function distinct(kind)
  local keys = {}
  for i = 0, buckets - 1 do keys[#keys + 1] = base .. ':' .. kind .. ':' .. (minute - i) end
  return redis.call('PFCOUNT', unpack(keys))
end
local previous = redis.call('ZREVRANGEBYSCORE', base .. ':ev', t, '-inf', 'WITHSCORES', 'LIMIT', 0, weight + 1)
local prev = ''
for i = 1, #previous, 2 do
  local member = previous[i]
  if member ~= id and string.sub(member, 1, #id + 1) ~= id .. '#' then prev = previous[i + 1]; break end
end
-- A distinct count merges a window of HyperLogLogs, the costliest step here: only done when the
-- entity has that kind of activity in the window (logins, requests) or the event reaches a destination.
-- The same goes for the narrower counts: they can only be non-zero when the broad one is.
local auth = count('auth', from)
local http = count('http', from)
local function ifAuth(f) if auth > 0 then return f() end return 0 end
local function ifHttp(f) if http > 0 then return f() end return 0 end
return {
  count('ev', from), auth, ifAuth(function() return count('auth', t - 60000) end),
  ifAuth(function() return count('fail', from) end), ifAuth(function() return count('inval', from) end),
  http, ifHttp(function() return count('http', t - 10000) end),
  ifHttp(function() return count('h4', from) end), ifHttp(function() return count('h5', from) end),
  ifAuth(function() return distinct('users') end), ifHttp(function() return distinct('paths') end),
  ARGV[7] ~= '' and distinct('dst') or 0, prev,
}

-- One entity's events of a batch into its windows, and each event's window read back, in one call.
-- KEYS[1]: the entity's key base (its hash tag keeps every key of the entity in one slot)
-- ARGV: windowMs, keepMs, ttlSeconds, bucketMinutes, then 7 values per event, in batch order:
--   t, eventId, weight, flags, user, urlPath, destination
-- flags: a string of 0/1 for auth, fail, inval, http, h4, h5
-- Returns 13 values per event (see feature-store.ts).
-- A redelivered event (its id already in the entity's memo) gets the values it got the first time:
-- recomputed, its window would also count the events that came after it in the first delivery, and
-- a retried batch would not give the same features.
local base = KEYS[1]
local windowMs = tonumber(ARGV[1])
local keepMs = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local buckets = tonumber(ARGV[4])
local SETS = { 'auth', 'fail', 'inval', 'http', 'h4', 'h5' }

-- Trimming and expiry are per key, not per event: done once, after the batch, for every key it touched.
local touchedSets = {}
local touchedLogs = {}
local newest = nil

local function add(set, t, id, weight)
  local key = base .. ':' .. set
  redis.call('ZADD', key, t, id)
  for r = 1, weight - 1 do redis.call('ZADD', key, t, id .. '#' .. r) end
  touchedSets[key] = true
end

local function pfadd(kind, minute, value)
  if value == '' then return end
  local key = base .. ':' .. kind .. ':' .. minute
  redis.call('PFADD', key, value)
  touchedLogs[key] = true
end

local memo = base .. ':memo'
local SEP = '|'

local function remembered(id)
  local packed = redis.call('HGET', memo, id)
  if not packed then return nil end
  local values = {}
  for value in string.gmatch(packed .. SEP, '([^' .. SEP .. ']*)' .. SEP) do values[#values + 1] = value end
  return values
end

local function count(set, since, t) return redis.call('ZCOUNT', base .. ':' .. set, since, t) end

local function distinct(kind, minute)
  local keys = {}
  for i = 0, buckets - 1 do keys[#keys + 1] = base .. ':' .. kind .. ':' .. (minute - i) end
  return redis.call('PFCOUNT', unpack(keys))
end

local function previousEventTime(t, id, weight)
  local previous = redis.call('ZREVRANGEBYSCORE', base .. ':ev', t, '-inf', 'WITHSCORES', 'LIMIT', 0, weight + 1)
  for i = 1, #previous, 2 do
    local member = previous[i]
    if member ~= id and string.sub(member, 1, #id + 1) ~= id .. '#' then return previous[i + 1] end
  end
  return ''
end

-- Adds the event at ARGV[at..at+6] to the windows and appends its 13 values to out.
local function addAndRead(out, at)
  local t = tonumber(ARGV[at])
  local id = ARGV[at + 1]
  local weight = tonumber(ARGV[at + 2])
  local flags = ARGV[at + 3]
  local destination = ARGV[at + 6]
  local n = #out

  add('ev', t, id, weight)
  for i = 1, 6 do
    if string.byte(flags, i) == 49 then add(SETS[i], t, id, weight) end -- 49 is '1'
  end
  local minute = math.floor(t / 60000)
  pfadd('users', minute, ARGV[at + 4])
  pfadd('paths', minute, ARGV[at + 5])
  pfadd('dst', minute, destination)

  -- A distinct count merges a window of HyperLogLogs, the costliest step here: only done when the
  -- entity has that kind of activity in the window (logins, requests) or the event reaches a destination.
  -- The same goes for the narrower counts: they can only be non-zero when the broad one is.
  local from = t - windowMs
  local auth = count('auth', from, t)
  local http = count('http', from, t)
  out[n + 1] = count('ev', from, t)
  out[n + 2] = auth
  out[n + 3] = auth > 0 and count('auth', t - 60000, t) or 0
  out[n + 4] = auth > 0 and count('fail', from, t) or 0
  out[n + 5] = auth > 0 and count('inval', from, t) or 0
  out[n + 6] = http
  out[n + 7] = http > 0 and count('http', t - 10000, t) or 0
  out[n + 8] = http > 0 and count('h4', from, t) or 0
  out[n + 9] = http > 0 and count('h5', from, t) or 0
  out[n + 10] = auth > 0 and distinct('users', minute) or 0
  out[n + 11] = http > 0 and distinct('paths', minute) or 0
  out[n + 12] = destination ~= '' and distinct('dst', minute) or 0
  out[n + 13] = previousEventTime(t, id, weight)
  redis.call('HSET', memo, id, table.concat(out, SEP, n + 1, n + 13))
end

local out = {}
for at = 5, #ARGV, 7 do
  local t = tonumber(ARGV[at])
  if newest == nil or t > newest then newest = t end
  local first = remembered(ARGV[at + 1])
  if first then
    for i = 1, #first do out[#out + 1] = first[i] end
  else
    addAndRead(out, at)
  end
end

if newest ~= nil then
  -- The memo keeps what the window keeps: the events trimmed from it are forgotten there too.
  local trimmed = redis.call('ZRANGEBYSCORE', base .. ':ev', '-inf', '(' .. (newest - keepMs))
  for i = 1, #trimmed, 1000 do redis.call('HDEL', memo, unpack(trimmed, i, math.min(i + 999, #trimmed))) end
  redis.call('EXPIRE', memo, ttl)
  for key in pairs(touchedSets) do
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (newest - keepMs))
    redis.call('EXPIRE', key, ttl)
  end
  for key in pairs(touchedLogs) do redis.call('EXPIRE', key, ttl) end
end
return out

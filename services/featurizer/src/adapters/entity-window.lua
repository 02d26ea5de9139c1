-- One entity's events of a batch into its windows, and each event's window read back, in one call.
-- KEYS[1]: the entity's key base (its hash tag keeps every key of the entity in one slot)
-- ARGV: keepMs, ttlSeconds, bucketMinutes, then the batch's events packed into one string, in batch order.
--   Each event is a header of 11 fields, each followed by '|':
--     t, t - window, t - 1 minute, t - 10 s, minute (t in whole minutes), weight, flags,
--     then the byte lengths of eventId, user, urlPath and destination,
--   and right after it those four strings, back to back (lengths, not separators: a user name or a
--   path from a log line can hold any byte).
-- flags: a string of 0/1 for auth, fail, inval, http, h4, h5
-- Returns one string: 14 values per event (see feature-store.ts), each followed by '|': 13 counts
-- and times, then whether the event came later than the grace behind its entity's newest (1/0): its
-- window starts more than keepMs (the window and the grace) behind, where the sets are already
-- trimmed, so its counts miss what was trimmed.
-- A redelivered event (its id already in the entity's window) gets the 14 values it got the first time:
-- recomputed, its window would also count the events that came after it in the first delivery, and
-- a retried batch would not give the same features.
--
-- Cost: this script is most of Redis's work for the featurizer, and most of that is redis.call
-- itself, dearer still with a Lua number as an argument (Redis formats it) or a string built here
-- (Lua interns it): the times come as strings from the client, key names are built once per call,
-- the memo is written with one HSET, and counts that must be zero are not asked for. The events
-- come packed, and the answer goes back packed, because the client's cost of building and parsing
-- 11 arguments and 13 replies per event was a fifth of the featurizer's own CPU.
local base = KEYS[1]
local keepMs = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local buckets = tonumber(ARGV[3])
local VALUES_PER_EVENT = 11
local SETS = { 'auth', 'fail', 'inval', 'http', 'h4', 'h5' }
local SEP = '|'
-- The batch's events, unpacked from ARGV[4] below: VALUES_PER_EVENT values each (t, from, minute ago,
-- 10 s ago, minute, id, weight, flags, user, urlPath, destination).
local E = {}

-- Trimming and expiry are per key, not per event: done once, after the batch, for every key it touched.
local touchedSets = {}
local touchedLogs = {}

local keyOf = {}
local function key(suffix)
  local k = keyOf[suffix]
  if not k then
    k = base .. ':' .. suffix
    keyOf[suffix] = k
  end
  return k
end
local evKey = key('ev')
local memo = key('memo')
-- id, values, id, values...: written with one HSET after the batch
local memoFields = {}

-- The newest time in a set (false: empty), read at the set's first use in the call and kept up as
-- events are added: a window that starts after it is empty without a count (most entities have
-- only logins or only requests), and an event at or after the ev set's newest has it as its
-- previous event's time without a lookup (events mostly come in order).
local newestIn = {}
local function newestOf(set)
  local known = newestIn[set]
  if known == nil then
    local top = redis.call('ZREVRANGE', key(set), 0, 0, 'WITHSCORES')
    known = top[2] and tonumber(top[2]) or false
    newestIn[set] = known
  end
  return known
end

-- inSet: the event itself is in already (the ev set, added first to tell a new event from a redelivery)
local function add(set, t, tText, id, weight, inSet)
  local k = key(set)
  if not inSet then redis.call('ZADD', k, tText, id) end
  for r = 1, weight - 1 do redis.call('ZADD', k, tText, id .. '#' .. r) end
  local newestTime = newestIn[set]
  if newestTime ~= nil and (newestTime == false or t > newestTime) then newestIn[set] = t end
  touchedSets[k] = true
end

-- HyperLogLog keys per kind and event-time minute, and the window's list of them, built once.
local bucketKey = {}
local windowKeys = {}
local function child(parent, name)
  local t = parent[name]
  if not t then
    t = {}
    parent[name] = t
  end
  return t
end
local function logKey(kind, minute)
  local byMinute = child(bucketKey, kind)
  local k = byMinute[minute]
  if not k then
    k = base .. ':' .. kind .. ':' .. minute
    byMinute[minute] = k
  end
  return k
end

-- Every HyperLogLog key is listed, by its minute, in one sorted set per entity, so that the minutes
-- a window can no longer reach are deleted on event time (below), not left to the TTL: a replay of
-- last month at full speed would otherwise keep a key per entity, kind and minute of it for the TTL.
local logIndex = key('logs')
local function pfadd(kind, minute, value)
  if value == '' then return end
  local k = logKey(kind, minute)
  redis.call('PFADD', k, value)
  if not touchedLogs[k] then
    redis.call('ZADD', logIndex, minute, k)
    touchedLogs[k] = true
  end
end

local function distinct(kind, minute)
  local byMinute = child(windowKeys, kind)
  local keys = byMinute[minute]
  if not keys then
    keys = {}
    local m = tonumber(minute)
    for i = 0, buckets - 1 do keys[#keys + 1] = logKey(kind, tostring(m - i)) end
    byMinute[minute] = keys
  end
  return redis.call('PFCOUNT', unpack(keys))
end

local function count(set, since, tText) return redis.call('ZCOUNT', key(set), since, tText) end
-- from, t: numbers for the comparison; fromText, tText: the same as strings, for Redis
local function countSince(set, from, fromText, tText)
  local newestTime = newestOf(set)
  if newestTime == false or newestTime < from then return 0 end
  return count(set, fromText, tText)
end

-- The values a redelivered event got the first time, as they were packed (false: forgotten).
local function remembered(id)
  return redis.call('HGET', memo, id)
end

-- Read before the event joins the window, where it would find itself.
local function previousEventTime(t, tText, id, weight)
  local newestTime = newestOf('ev')
  if newestTime == false or t >= newestTime then return newestTime == false and '' or newestTime end
  local previous = redis.call('ZREVRANGEBYSCORE', evKey, tText, '-inf', 'WITHSCORES', 'LIMIT', 0, weight + 1)
  for i = 1, #previous, 2 do
    local member = previous[i]
    if member ~= id and string.sub(member, 1, #id + 1) ~= id .. '#' then return previous[i + 1] end
  end
  return ''
end

-- The event at E[at..], already in the ev set, into the other windows; returns its 13 values and
-- its lateness packed, as the memo keeps them.
local out = {}
local function addAndRead(at, t, previous, late)
  local tText, fromText, minuteAgo, tenSecondsAgo, minute = E[at], E[at + 1], E[at + 2], E[at + 3], E[at + 4]
  local id, weight, flags, destination = E[at + 5], tonumber(E[at + 6]), E[at + 7], E[at + 10]
  local from = tonumber(fromText)

  add('ev', t, tText, id, weight, true)
  for i = 1, 6 do
    if string.byte(flags, i) == 49 then add(SETS[i], t, tText, id, weight) end -- 49 is '1'
  end
  pfadd('users', minute, E[at + 8])
  pfadd('paths', minute, E[at + 9])
  pfadd('dst', minute, destination)

  -- A distinct count merges a window of HyperLogLogs, the costliest step here: only done when the
  -- entity has that kind of activity in the window (logins, requests) or the event reaches a destination.
  -- The same goes for the narrower counts: they can only be non-zero when the broad one is.
  local auth = countSince('auth', from, fromText, tText)
  local http = countSince('http', from, fromText, tText)
  out[1] = count('ev', fromText, tText)
  out[2] = auth
  out[3] = auth > 0 and count('auth', minuteAgo, tText) or 0
  out[4] = auth > 0 and count('fail', fromText, tText) or 0
  out[5] = auth > 0 and count('inval', fromText, tText) or 0
  out[6] = http
  out[7] = http > 0 and count('http', tenSecondsAgo, tText) or 0
  out[8] = http > 0 and count('h4', fromText, tText) or 0
  out[9] = http > 0 and count('h5', fromText, tText) or 0
  out[10] = auth > 0 and distinct('users', minute) or 0
  out[11] = http > 0 and distinct('paths', minute) or 0
  out[12] = destination ~= '' and distinct('dst', minute) or 0
  out[13] = previous
  out[14] = late and '1' or '0'
  local packed = table.concat(out, SEP, 1, 14)
  memoFields[#memoFields + 1] = id
  memoFields[#memoFields + 1] = packed
  return packed
end

do
  local packed = ARGV[4]
  local HEADER = '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|([^|]*)|(%d+)|(%d+)|(%d+)|(%d+)|'
  local at, size = 1, #packed
  while at <= size do
    local _, stop, t, from, minuteAgo, tenSecondsAgo, minute, weight, flags, idBytes, userBytes, pathBytes, destinationBytes = string.find(packed, HEADER, at)
    if not stop then return redis.error_reply('entity-window: malformed event at byte ' .. at) end
    local idEnd = stop + tonumber(idBytes)
    local userEnd = idEnd + tonumber(userBytes)
    local pathEnd = userEnd + tonumber(pathBytes)
    at = pathEnd + tonumber(destinationBytes) + 1
    if at - 1 > size then return redis.error_reply('entity-window: event at byte ' .. stop .. ' runs past the end') end
    local n = #E
    E[n + 1], E[n + 2], E[n + 3], E[n + 4], E[n + 5] = t, from, minuteAgo, tenSecondsAgo, minute
    E[n + 6], E[n + 7], E[n + 8] = string.sub(packed, stop + 1, idEnd), weight, flags
    E[n + 9], E[n + 10], E[n + 11] = string.sub(packed, idEnd + 1, userEnd), string.sub(packed, userEnd + 1, pathEnd), string.sub(packed, pathEnd + 1, at - 1)
  end
end

-- Each event's 13 values and its lateness packed, as the memo keeps them: the reply is these joined.
local answers = {}
local newest, oldest = nil, nil
-- Where the last call trimmed the sets to (trimming follows the batch, see below): an event is late
-- when its window starts before that, in time already trimmed. State written before the bound was
-- kept was trimmed to keepMs behind its newest event.
local trimKey = key('trim')
local trimmedTo = tonumber(redis.call('GET', trimKey) or '')
if trimmedTo == nil then
  local newestBefore = newestOf('ev')
  trimmedTo = newestBefore ~= false and newestBefore - keepMs or false
end
for at = 1, #E, VALUES_PER_EVENT do
  local tText, id = E[at], E[at + 5]
  local t = tonumber(tText)
  if newest == nil or t > newest then newest = t end
  if oldest == nil or t < oldest then oldest = t end
  local late = trimmedTo ~= false and tonumber(E[at + 1]) < trimmedTo -- E[at + 1]: the window's start
  local previous = previousEventTime(t, tText, id, tonumber(E[at + 6]))
  -- Adding the event tells whether it is new: only a known one (a redelivery) looks in the memo,
  -- and is told its lateness as it was. A memo entry written before lateness was kept has 13 values.
  local first = false
  if redis.call('ZADD', evKey, tText, id) == 0 then
    first = remembered(id)
    if first and select(2, string.gsub(first, '|', '')) == 12 then first = first .. SEP .. '0' end
  end
  answers[#answers + 1] = first or addAndRead(at, t, previous, late)
end

-- unpack has a stack limit: the memo's fields go in slices (of whole pairs)
for i = 1, #memoFields, 1000 do redis.call('HSET', memo, unpack(memoFields, i, math.min(i + 999, #memoFields))) end
if newest ~= nil then
  -- Trimmed to keepMs behind the newest event, but never past this call's oldest: a batch that
  -- comes again (its output failed after this call) finds every one of its events still here, memo
  -- included, and gets the windows it got, however long a span of event time it covers (a catch-up,
  -- a replay). The next call for the entity trims them. The memo keeps what the window keeps: the
  -- events trimmed from it are forgotten there too.
  local bound = math.min(newest - keepMs, oldest)
  local keepFrom = '(' .. bound
  local trimmed = redis.call('ZRANGEBYSCORE', evKey, '-inf', keepFrom)
  for i = 1, #trimmed, 1000 do redis.call('HDEL', memo, unpack(trimmed, i, math.min(i + 999, #trimmed))) end
  redis.call('EXPIRE', memo, ttl)
  for k in pairs(touchedSets) do
    redis.call('ZREMRANGEBYSCORE', k, '-inf', keepFrom)
    redis.call('EXPIRE', k, ttl)
  end
  for k in pairs(touchedLogs) do redis.call('EXPIRE', k, ttl) end
  -- A window still reaches the minute of the bound (keepMs is the window and the late grace: the
  -- window of an event that lands a grace late starts there), not an older one. Older minutes'
  -- keys go, and their entries in the index.
  local oldestNeeded = '(' .. math.floor(bound / 60000)
  local stale = redis.call('ZRANGEBYSCORE', logIndex, '-inf', oldestNeeded)
  for i = 1, #stale, 1000 do redis.call('DEL', unpack(stale, i, math.min(i + 999, #stale))) end
  if #stale > 0 then redis.call('ZREMRANGEBYSCORE', logIndex, '-inf', oldestNeeded) end
  redis.call('EXPIRE', logIndex, ttl)
  -- What is trimmed only grows: a batch of older events (a late one, a replay) trims nothing more,
  -- and must not make later events take a window already trimmed for whole.
  redis.call('SET', trimKey, (trimmedTo ~= false and trimmedTo > bound) and trimmedTo or bound, 'EX', ttl)
end
-- Every value followed by SEP, so that an empty last value still counts.
return #answers > 0 and table.concat(answers, SEP) .. SEP or ''

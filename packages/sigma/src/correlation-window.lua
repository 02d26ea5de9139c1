-- One observation of a Sigma correlation for one group, and whether it fires, atomically.
-- KEYS[1]: the window (sorted set: member -> time); KEYS[2]: evidence (hash: step -> event id);
-- KEYS[3]: the outcomes (hash: observation -> '' or the firing it completed, as JSON);
-- KEYS[4]: the observations' times (sorted set: observation -> time), to forget outcomes by;
-- KEYS[5]: the quotes (hash: window member -> the caller's quote of the event that put it there).
-- ARGV: type, time (ms), timespan (ms), steps (comma list), stepCount, eventId, value, ttl (ms),
--       then gt, gte, lt, lte, eq, neq ('' when absent), then the most members to return, then the
--       most events a temporal_ordered window keeps, then the event's quote ('' for none).
-- Returns false, or a firing: fresh, { {count, members...}, {quotes...} }; observed before, its
-- outcome as kept, {count, members...} (the quotes are not kept with outcomes: a flood fires often).
-- The semantics are those of createMemoryCorrelationState (correlation.ts); keep them in step.
local w, ev, outcomes, seen, quotes = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local kind = ARGV[1]
local t = tonumber(ARGV[2])
local span = tonumber(ARGV[3])
local stepCount = tonumber(ARGV[5])
local eventId = ARGV[6]
local ttl = tonumber(ARGV[8])
local maxMembers = tonumber(ARGV[15])
local maxOrderedEvents = tonumber(ARGV[16])
local quote = ARGV[17]
-- An observation is an event seen at some steps: the same event read from `scores` and from
-- `features` may match different steps, and is two observations.
local observation = eventId .. '#' .. ARGV[4]

local function expireAll()
  for _, k in ipairs(KEYS) do redis.call('PEXPIRE', k, ttl) end
end

-- Observed before (a redelivery, or the same event twice in a batch): what it gave then.
local known = redis.call('HGET', outcomes, observation)
if known then
  expireAll()
  if known == '' then return false end
  return cjson.decode(known)
end

-- The group's newest event time outlives a firing: windows run on it, and outcomes are forgotten by it.
local newest = t
local top = redis.call('ZREVRANGE', seen, 0, 0, 'WITHSCORES')
if top[2] and tonumber(top[2]) > newest then newest = tonumber(top[2]) end
local from = newest - span
if t <= from then return false end
local forgotten = redis.call('ZRANGEBYSCORE', seen, '-inf', from)
for i = 1, #forgotten, 1000 do redis.call('HDEL', outcomes, unpack(forgotten, i, math.min(i + 999, #forgotten))) end
redis.call('ZREMRANGEBYSCORE', seen, '-inf', from)
-- A member leaves the window with its quote.
local function forgetQuotes(members)
  for i = 1, #members, 1000 do redis.call('HDEL', quotes, unpack(members, i, math.min(i + 999, #members))) end
end
forgetQuotes(redis.call('ZRANGEBYSCORE', w, '-inf', from))
redis.call('ZREMRANGEBYSCORE', w, '-inf', from)
redis.call('ZADD', seen, t, observation)

local steps = {}
for s in string.gmatch(ARGV[4], '[^,]+') do steps[#steps + 1] = tonumber(s) end

local function keep()
  redis.call('HSET', outcomes, observation, '')
  expireAll()
  return false
end

-- members: the window's members that made it fire; named: what the firing names for each (an event
-- id, or for value_count the value itself).
local function fire(count, members, named)
  local out, quoted = { count }, {}
  for i = 1, math.min(#members, maxMembers) do
    out[#out + 1] = named[i]
    quoted[#quoted + 1] = redis.call('HGET', quotes, members[i]) or ''
  end
  redis.call('DEL', w, ev, quotes)
  redis.call('HSET', outcomes, observation, cjson.encode(out))
  expireAll()
  return { out, quoted }
end

-- At most as many quotes as a firing returns members, the first to come (a member's own is
-- replaced): a window of thousands of events keeps a hundred quotes, not a copy of each event.
local function setQuote(member)
  if quote == '' then
    redis.call('HDEL', quotes, member)
  elseif redis.call('HLEN', quotes) < maxMembers or redis.call('HEXISTS', quotes, member) == 1 then
    redis.call('HSET', quotes, member, quote)
  end
end

local function raise(member, time)
  local cur = redis.call('ZSCORE', w, member)
  if (not cur) or time > tonumber(cur) then
    redis.call('ZADD', w, time, member)
    return true
  end
  return false
end

if kind == 'temporal_ordered' then
  -- Every matched event stays in the window as step|event: events arrive out of their order (a
  -- score comes after the features of its event, and of later events), so the chain is looked for
  -- on event time each time, not built up in arrival order.
  for _, step in ipairs(steps) do
    local member = string.format('%04d', step) .. '|' .. eventId
    redis.call('ZADD', w, t, member)
    setQuote(member)
  end
  local size = redis.call('ZCARD', w)
  if size > maxOrderedEvents then
    forgetQuotes(redis.call('ZRANGE', w, 0, size - maxOrderedEvents - 1))
    redis.call('ZREMRANGEBYRANK', w, 0, size - maxOrderedEvents - 1)
  end
  -- In time order (a tie: the lower step first): best[s] is the chain through step s with the
  -- latest start, which leaves the most room for the steps after it.
  local best = {}
  local entries = redis.call('ZRANGE', w, 0, -1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    local member, time = entries[i], tonumber(entries[i + 1])
    local bar = string.find(member, '|', 1, true)
    if bar then
      local step, id = tonumber(string.sub(member, 1, bar - 1)), string.sub(member, bar + 1)
      if step == 0 then
        if not best[0] or time >= best[0].start then best[0] = { start = time, last = id, members = { member }, ids = { id } } end
      else
        local before = best[step - 1]
        -- One event is not two steps of a chain.
        if before and before.last ~= id and time - before.start < span and (not best[step] or before.start >= best[step].start) then
          local members, ids = { unpack(before.members) }, { unpack(before.ids) }
          members[#members + 1] = member
          ids[#ids + 1] = id
          best[step] = { start = before.start, last = id, members = members, ids = ids }
        end
      end
    end
  end
  local chain = best[stepCount - 1]
  if not chain then return keep() end
  return fire(stepCount, chain.members, chain.ids)
end

if kind == 'temporal' then
  -- A step's evidence is the event that came to it last.
  for _, step in ipairs(steps) do
    raise(tostring(step), t)
    redis.call('HSET', ev, tostring(step), eventId)
    setQuote(tostring(step))
  end
else
  -- A value's quote is of its latest event.
  local member = kind == 'value_count' and ARGV[7] or eventId
  if raise(member, t) then setQuote(member) end
end

local count = redis.call('ZCARD', w)
local function bound(i) if ARGV[i] == '' then return nil end return tonumber(ARGV[i]) end
local gt, gte, lt, lte, eq, neq = bound(9), bound(10), bound(11), bound(12), bound(13), bound(14)
if (gt and not (count > gt)) or (gte and not (count >= gte)) or (lt and not (count < lt)) or (lte and not (count <= lte))
  or (eq and count ~= eq) or (neq and count == neq) then
  return keep()
end

local members, named = {}, {}
if kind == 'temporal' then
  members = redis.call('ZRANGE', w, 0, -1)
  table.sort(members)
  for _, s in ipairs(members) do named[#named + 1] = redis.call('HGET', ev, s) or '' end
else
  members = redis.call('ZRANGE', w, 0, -1)
  named = members
end
return fire(count, members, named)

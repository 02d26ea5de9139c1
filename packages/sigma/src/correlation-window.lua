-- One observation of a Sigma correlation for one group, and whether it fires, atomically.
-- KEYS[1]: the window (sorted set: member -> time); KEYS[2]: evidence (hash: step -> event id).
-- ARGV: type, time (ms), timespan (ms), steps (comma list), stepCount, eventId, value, ttl (ms),
--       then gt, gte, lt, lte, eq, neq ('' when absent), then the most members to return.
-- The semantics are those of createMemoryCorrelationState (correlation.ts); keep them in step.
local w, ev = KEYS[1], KEYS[2]
local kind = ARGV[1]
local t = tonumber(ARGV[2])
local span = tonumber(ARGV[3])
local stepCount = tonumber(ARGV[5])
local eventId = ARGV[6]
local ttl = tonumber(ARGV[8])
local maxMembers = tonumber(ARGV[15])

local newest = t
local top = redis.call('ZREVRANGE', w, 0, 0, 'WITHSCORES')
if top[2] and tonumber(top[2]) > newest then newest = tonumber(top[2]) end
local from = newest - span
if t <= from then return false end
redis.call('ZREMRANGEBYSCORE', w, '-inf', from)

local steps = {}
for s in string.gmatch(ARGV[4], '[^,]+') do steps[#steps + 1] = tonumber(s) end

local function keep()
  redis.call('PEXPIRE', w, ttl)
  redis.call('PEXPIRE', ev, ttl)
  return false
end

local function fire(count, members)
  redis.call('DEL', w, ev)
  local out = { count }
  for i = 1, math.min(#members, maxMembers) do out[#out + 1] = members[i] end
  return out
end

local function raise(member, time)
  local cur = redis.call('ZSCORE', w, member)
  if (not cur) or time > tonumber(cur) then redis.call('ZADD', w, time, member) end
end

if kind == 'temporal_ordered' then
  table.sort(steps, function(a, b) return a > b end)
  for _, step in ipairs(steps) do
    local start = nil
    if step == 0 then
      start = t
    else
      local s = redis.call('ZSCORE', w, tostring(step - 1))
      if s then start = tonumber(s) end
    end
    if start and start > from then
      local cur = redis.call('ZSCORE', w, tostring(step))
      if (not cur) or start >= tonumber(cur) then
        redis.call('ZADD', w, start, tostring(step))
        redis.call('HSET', ev, tostring(step), eventId)
      end
    end
  end
  if not redis.call('ZSCORE', w, tostring(stepCount - 1)) then return keep() end
  local members = {}
  for i = 0, stepCount - 1 do members[#members + 1] = redis.call('HGET', ev, tostring(i)) or '' end
  return fire(stepCount, members)
end

if kind == 'temporal' then
  for _, step in ipairs(steps) do
    raise(tostring(step), t)
    redis.call('HSET', ev, tostring(step), eventId)
  end
elseif kind == 'value_count' then
  raise(ARGV[7], t)
else
  raise(eventId, t)
end

local count = redis.call('ZCARD', w)
local function bound(i) if ARGV[i] == '' then return nil end return tonumber(ARGV[i]) end
local gt, gte, lt, lte, eq, neq = bound(9), bound(10), bound(11), bound(12), bound(13), bound(14)
if (gt and not (count > gt)) or (gte and not (count >= gte)) or (lt and not (count < lt)) or (lte and not (count <= lte))
  or (eq and count ~= eq) or (neq and count == neq) then
  return keep()
end

local members = {}
if kind == 'temporal' then
  local names = redis.call('ZRANGE', w, 0, -1)
  table.sort(names)
  for _, s in ipairs(names) do members[#members + 1] = redis.call('HGET', ev, s) or '' end
else
  members = redis.call('ZRANGE', w, 0, -1)
end
return fire(count, members)

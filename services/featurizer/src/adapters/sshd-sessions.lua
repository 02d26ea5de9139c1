-- One host's sshd lines of a batch, in stream order, read against what its sshd wrote before: which
-- connection an address-less line belongs to, and whether a verdict or a PAM failure is the attempt.
-- KEYS[1]: the host's recent verdict times (sorted set; score and member the event time)
-- KEYS[2]: the base of the host's session hashes, one per hour of event time:
--   field 's<pid>': the client address of sshd process <pid>'s connection, from a line that names it;
--   field 'a<pid>': 'time|address|consumer' of the PAM failure of <pid> that stood alone, and the
--   event id of the verdict that was found to be its attempt ('' before).
-- ARGV: verdictTtl, verdictsKept, horizonMs, pairMs, sessionTtl, then 5 values per line:
--   kind ('v' verdict, 'p' PAM failure, 'o' other), event time, pid ('' none), address ('' none), event id.
-- Returns 2 values per line: the connection's address for a line that names none ('' unknown), and
--   for a verdict whether it counts as the attempt (0: its PAM failure stood alone and counted),
--   for a PAM failure whether it stands alone (no verdict of the host in the horizon before it; a
--   time older than every verdict kept, when some were dropped, is taken for one beside a verdict).
-- A retried batch gets the answers it got: a record is rewritten with what it held, a verdict finds
-- its own id as the consumer, and whether a verdict came before a PAM line is read on event time.
local verdicts, sessions = KEYS[1], KEYS[2]
local verdictTtl, kept, horizon, pairMs, sessionTtl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local HOUR = 3600000
local touched = {}
local verdictAdded = false
local out = {}

-- A connection writes many lines, most naming its client: each field is read from Redis once per
-- call and written only when it changes (redis.call is most of the script's cost).
local known = {}
local function bucket(t)
  return sessions .. ':' .. string.format('%.0f', math.floor(t / HOUR))
end
local function read(k, field)
  local slot = k .. ' ' .. field
  local v = known[slot]
  if v == nil then
    v = redis.call('HGET', k, field)
    known[slot] = v
  end
  return v
end
-- A field of the hour's hash, else the hour before's (a connection across the hour).
local function lookup(t, field)
  local k = bucket(t)
  local v = read(k, field)
  if v then return v, k end
  k = bucket(t - HOUR)
  v = read(k, field)
  if v then return v, k end
  return nil, nil
end
local function write(k, field, value)
  if read(k, field) == value then return end
  redis.call('HSET', k, field, value)
  known[k .. ' ' .. field] = value
  touched[k] = true
end
local function record(value)
  return string.match(value, '^([^|]*)|([^|]*)|(.*)$')
end

for i = 6, #ARGV, 5 do
  local kind, tText, pid, address, id = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local t = tonumber(tText)
  local sessionAddress = ''
  if pid ~= '' then
    if address ~= '' then write(bucket(t), 's' .. pid, address)
    else sessionAddress = lookup(t, 's' .. pid) or '' end
  end
  local client = address ~= '' and address or sessionAddress
  local flag = '0'
  if kind == 'v' then
    flag = '1'
    if pid ~= '' and client ~= '' then
      local value, k = lookup(t, 'a' .. pid)
      if value then
        local at, from, consumer = record(value)
        local since = t - tonumber(at)
        if from == client and since >= 0 and since <= pairMs and (consumer == '' or consumer == id) then
          flag = '0'
          write(k, 'a' .. pid, at .. '|' .. from .. '|' .. id)
        end
      end
    end
    redis.call('ZADD', verdicts, tText, tText)
    verdictAdded = true
  elseif kind == 'p' then
    local alone = redis.call('ZCOUNT', verdicts, string.format('%.0f', t - horizon), '(' .. tText) == 0
    if alone and redis.call('ZCARD', verdicts) >= kept then
      alone = t >= tonumber(redis.call('ZRANGE', verdicts, 0, 0, 'WITHSCORES')[2])
    end
    if alone then
      flag = '1'
      if pid ~= '' and client ~= '' then
        local value = lookup(t, 'a' .. pid)
        local consumer = ''
        if value then
          local at, from, was = record(value)
          if at == tText and from == client then consumer = was end
        end
        write(bucket(t), 'a' .. pid, tText .. '|' .. client .. '|' .. consumer)
      end
    end
  end
  out[#out + 1] = sessionAddress
  out[#out + 1] = flag
end

if verdictAdded then
  redis.call('ZREMRANGEBYRANK', verdicts, 0, -kept - 1)
  redis.call('EXPIRE', verdicts, verdictTtl)
end
for k in pairs(touched) do redis.call('EXPIRE', k, sessionTtl) end
return out

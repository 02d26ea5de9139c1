-- One host's sshd lines of a batch, in stream order, read against what its sshd wrote before: which
-- connection an address-less line belongs to, and whether a verdict, a PAM failure or an `Invalid
-- user` line is the attempt.
-- KEYS[1]: the host's recent verdict times (sorted set; score and member the event time)
-- KEYS[2]: the base of the host's session hashes, one per hour of event time (':<hour>'), fields:
--   's<pid>': 'time|address' of the newest line of sshd process <pid> that named its client;
--   'a<pid>': 'time|address|consumer' of the PAM failure of <pid> that stood alone and counted, and
--     the event id of the failed verdict found to be its attempt ('' before); address '' where the
--     PAM line named its client by host name only (pam_unix's rhost under UseDNS): the connection's
--     verdict, which names the address, is the same attempt;
--   'u<pid>': the same of the `Invalid user` line of <pid>, which counted;
--   'k<pid>': the time of <pid>'s kex_exchange_identification error that the client closed or reset
--     before its identification (a line without the client), until a closing line of <pid> takes it;
--   'm<event id>': the answer a line got (address and flag), given again when the line comes again;
-- ARGV: verdictTtl, verdictsKept, horizonMs, pairMs, userPairMs, sessionMs, sessionTtl, kexPairMs,
--   then 5 values per line: kind ('f' failed verdict, 'v' accepted verdict, 'p' PAM failure, 'i'
--   `Invalid user`, 'k' the kex error above, 'c' a line that ends a connection and names its client,
--   'o' other), event time, pid ('' none), client address ('' none), event id. pairMs: how long
--   after a PAM failure its verdict may come; userPairMs: after an `Invalid user` line; kexPairMs:
--   after the kex error, the line that ends its connection.
-- The `Invalid user` line (or `User … not allowed because …`, which AllowUsers and DenyUsers write
--   instead) is the attempt wherever it names its connection: sshd writes no verdict
--   when the client tries no password (OpenSSH 3's `Illegal user`, a scanner that offers a name and
--   goes), and when it writes one, the connection's first failed verdict does not count again. A PAM
--   failure of the same connection is the same attempt.
-- Returns 2 values per line: the connection's address for a line that names none ('' unknown), and
--   for a verdict whether it counts as the attempt (0: a failed one whose PAM failure stood alone and
--   counted, or whose `Invalid user` line counted), for a PAM failure whether it stands alone (no
--   verdict of the host in the horizon before it: a time older than every verdict kept, when some
--   were dropped, is taken for one beside a verdict; and no `Invalid user` line of its connection
--   that counted), for an `Invalid user` line whether it names its connection (pid and address), for
--   a line that ends a connection whether its process's kex error came just before it, for another
--   line 0.
-- A line that comes again (a retried batch) gets the answer it got the first time: later lines of
-- the first delivery changed the verdicts and sessions it would be read against now.
local verdicts, sessions = KEYS[1], KEYS[2]
local verdictTtl, kept, horizon, pairMs, userPairMs, sessionMs, sessionTtl, kexPairMs =
  ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])
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
local function forget(k, field)
  redis.call('HDEL', k, field)
  known[k .. ' ' .. field] = false
end

-- The line stored at a connection's field ('a' or 'u' and pid) that counted for the client (or for
-- one it named by host name only) within withinMs before t, and is not yet the attempt of another
-- verdict than id; nil when there is none.
local function unclaimed(t, field, client, withinMs, id)
  local value, k = lookup(t, field)
  if not value then return nil end
  local at, from, consumer = string.match(value, '^([^|]*)|([^|]*)|(.*)$')
  local since = t - tonumber(at)
  if (from ~= '' and from ~= client) or since < 0 or since > withinMs or (consumer ~= '' and consumer ~= id) then return nil end
  return k, at .. '|' .. from .. '|'
end
-- Whether a failed verdict is the attempt such a line counted; if so, the line is its.
local function claim(t, field, client, withinMs, id)
  local k, stored = unclaimed(t, field, client, withinMs, id)
  if not k then return false end
  write(k, field, stored .. id)
  return true
end

-- The kex errors of the batch first: a relay may deliver the line that ends a connection before
-- the error its process wrote just before it. (Across batches, a closing line that came first stays
-- unpaired.) A line answered before is left out: its pairing is done.
for i = 9, #ARGV, 5 do
  local kind, tText, pid, id = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 4]
  local t = tonumber(tText)
  if kind == 'k' and pid ~= '' and not read(bucket(t), 'm' .. id) then write(bucket(t), 'k' .. pid, tText) end
end

for i = 9, #ARGV, 5 do
  local kind, tText, pid, address, id = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local t = tonumber(tText)
  -- Only answers that later lines can change are kept: an accepted verdict always counts, and a
  -- line that names its client is placed nowhere.
  local memoKey, memoField = bucket(t), 'm' .. id
  local remembered = kind ~= 'v' and not (kind == 'o' and address ~= '')
  local memo = remembered and read(memoKey, memoField)
  local sessionAddress, flag = '', '0'
  if memo then
    sessionAddress, flag = string.match(memo, '^([^|]*)|(.*)$')
  else
    if pid ~= '' then
      if address ~= '' then
        write(bucket(t), 's' .. pid, tText .. '|' .. address)
      else
        -- the newest naming line of the connection, if it came no later than this one and not long before
        local named = lookup(t, 's' .. pid)
        if named then
          local at, from = string.match(named, '^([^|]*)|(.*)$')
          local since = t - tonumber(at)
          if since >= 0 and since <= sessionMs then sessionAddress = from end
        end
      end
    end
    local client = address ~= '' and address or sessionAddress
    if kind == 'f' or kind == 'v' then
      flag = '1'
      if kind == 'f' and pid ~= '' and client ~= ''
        and (claim(t, 'a' .. pid, client, pairMs, id) or claim(t, 'u' .. pid, client, userPairMs, id)) then
        flag = '0'
      end
      redis.call('ZADD', verdicts, tText, tText)
      verdictAdded = true
    elseif kind == 'p' then
      local alone = redis.call('ZCOUNT', verdicts, string.format('%.0f', t - horizon), '(' .. tText) == 0
      if alone and redis.call('ZCARD', verdicts) >= kept then
        alone = t >= tonumber(redis.call('ZRANGE', verdicts, 0, 0, 'WITHSCORES')[2])
      end
      -- its connection's `Invalid user` line counted the attempt
      if alone and pid ~= '' and client ~= '' and unclaimed(t, 'u' .. pid, client, userPairMs, '') then alone = false end
      if alone then
        flag = '1'
        if pid ~= '' then write(bucket(t), 'a' .. pid, tText .. '|' .. client .. '|') end
      end
    elseif kind == 'i' and pid ~= '' and client ~= '' then
      flag = '1'
      write(bucket(t), 'u' .. pid, tText .. '|' .. client .. '|')
    elseif kind == 'c' and pid ~= '' then
      -- Its process's kex error within kexPairMs either side (a relay may swap them), taken once: a
      -- later connection of a reused pid, or of another host with the same name, finds none.
      local at, k = lookup(t, 'k' .. pid)
      local apart = at and math.abs(t - tonumber(at))
      if apart and apart <= kexPairMs then
        flag = '1'
        forget(k, 'k' .. pid)
      end
    end
    if remembered then write(memoKey, memoField, sessionAddress .. '|' .. flag) end
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

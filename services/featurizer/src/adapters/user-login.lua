-- One login into its user's history, and what that history said before it, in one call.
-- KEYS: the user's countries (set), ips (set), loc (hash: lat, lon, n sums), memo (hash: event id -> answer)
-- ARGV: eventId, country ('' when unknown), ip, lat, lon ('' when unknown), success (1/0), ttlSeconds, memoMax, memoTtlSeconds
-- Returns: countryKnown (0/1), ipKnown (0/1), lat sum, lon sum, n ('' when none).
-- A redelivered login (its id in the memo) gets the answer it got the first time and changes nothing:
-- otherwise it would find its own address already known, and add its location twice.
local countries, ips, loc, memo = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, country, ip, lat, lon, success = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6] == '1'
local ttl, memoMax, memoTtl = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local SEP = '|'

local first = redis.call('HGET', memo, id)
if first then
  local values = {}
  for value in string.gmatch(first .. SEP, '([^' .. SEP .. ']*)' .. SEP) do values[#values + 1] = value end
  return values
end

local sums = redis.call('HMGET', loc, 'lat', 'lon', 'n')
local answer = {
  redis.call('SISMEMBER', countries, country),
  redis.call('SISMEMBER', ips, ip),
  sums[1] or '', sums[2] or '', sums[3] or '',
}
if success then
  if country ~= '' then redis.call('SADD', countries, country) end
  redis.call('SADD', ips, ip)
  if lat ~= '' and lon ~= '' then
    redis.call('HINCRBYFLOAT', loc, 'lat', lat)
    redis.call('HINCRBYFLOAT', loc, 'lon', lon)
    redis.call('HINCRBY', loc, 'n', 1)
  end
  for _, key in ipairs({ countries, ips, loc }) do redis.call('EXPIRE', key, ttl) end
end
-- The memo only has to outlive a redelivery: past memoMax logins it starts again, and it lives as
-- long as the entity windows do, not as long as the history: failed logins under made-up names,
-- which write nothing else, would otherwise keep a key each for the history's 30 days.
if redis.call('HLEN', memo) >= memoMax then redis.call('DEL', memo) end
redis.call('HSET', memo, id, table.concat(answer, SEP))
redis.call('EXPIRE', memo, memoTtl)
return answer

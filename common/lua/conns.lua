-- conns.lua: adjust one gateway's connection count for a channel, and remember which channels
-- (and which gateways) have state in Redis, so that owners can sweep it up if the gateway dies.
-- KEYS[1]  conns hash    (<prefix>conns:{channel})   gateway id -> connection count
-- KEYS[2]  gwchans set   (<prefix>gwchans:{gateway}) channels where the gateway has connections
-- KEYS[3]  gwknown set   (<prefix>gwknown)           gateways that may have state to sweep
-- ARGV[1]  gateway id   ARGV[2] delta (integer), or "=N" to set the count to N
-- ARGV[3]  channel name
-- Reply:   the new count (a field that reaches 0 is removed, and so is an empty hash)
local n
if string.sub(ARGV[2], 1, 1) == '=' then
    n = tonumber(string.sub(ARGV[2], 2))
    if n > 0 then redis.call('HSET', KEYS[1], ARGV[1], n) end
else
    n = redis.call('HINCRBY', KEYS[1], ARGV[1], tonumber(ARGV[2]))
end
if n <= 0 then
    redis.call('HDEL', KEYS[1], ARGV[1])
    redis.call('SREM', KEYS[2], ARGV[3])
else
    redis.call('SADD', KEYS[2], ARGV[3])
    redis.call('SADD', KEYS[3], ARGV[1])
end
return n

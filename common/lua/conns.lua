-- uses: webhooks.lib.lua
-- keys: 2+  argv: 1+
-- conns.lua: adjust one gateway's connection counts for a batch of channels, and remember which
-- channels (and which gateways) have state in Redis, so that owners can sweep it up if the
-- gateway dies. One call carries every channel whose count changed in a gateway loop turn.
-- KEYS[1]    gwchans set   (<prefix>{#}:gwchans:<gateway>) channels where the gateway has connections
-- KEYS[2]    gwknown set   (<prefix>{#}:gwknown)           gateways that may have state to sweep
-- KEYS[2+i]  conns hash    (<prefix>conns:{channel i}) gateway id -> connection count
-- ARGV[1]    gateway id
-- ARGV[2i]   channel i's change: a delta (integer), or "=N" to set the count to N
-- ARGV[2i+1] channel i's name
-- Reply:     the new counts, in order (a field that reaches 0 is removed, and so is an empty hash)
-- A channel whose hash appears or disappears is occupied or vacated cluster-wide: its webhook
-- event is queued here (webhooks.lib.lua).
local counts = {}
local any = false
local P = bf_wh_prefix(KEYS[2], 'gwknown')
local on = bf_wh_on(P)
for i = 1, #KEYS - 2 do
    local key, change, channel = KEYS[2 + i], ARGV[2 * i], ARGV[2 * i + 1]
    local n
    local was = on and redis.call('EXISTS', key) == 1
    if string.sub(change, 1, 1) == '=' then
        n = tonumber(string.sub(change, 2))
        if n > 0 then redis.call('HSET', key, ARGV[1], n) end
    else
        n = redis.call('HINCRBY', key, ARGV[1], tonumber(change))
    end
    if n <= 0 then
        redis.call('HDEL', key, ARGV[1])
        redis.call('SREM', KEYS[1], channel)
    else
        redis.call('SADD', KEYS[1], channel)
        any = true
    end
    counts[i] = n
    if on then bf_wh_occupancy(P, on, channel, was, redis.call('EXISTS', key) == 1) end
end
if any then redis.call('SADD', KEYS[2], ARGV[1]) end
return counts

-- uses: webhooks.lib.lua
-- keys: 1+  argv: 1+
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
-- Redis Cluster (BF_SHARDED): KEYS are only the conns hashes (KEYS[i], channels of one slot) and
-- the gwchans/gwknown index is the caller's, in the cluster-wide slot: SADD before this call for
-- the channels gaining connections, SREM after it for those whose count reached 0
-- (bf_conns_send, scripts_split.c). The webhook events go back through the caller.
-- The declared arity is the smallest call's, the cluster form's (one conns key); on one Redis
-- the two index keys come first, read by position below.
local counts = {}
local any = false
local base, P, gwchans, gwknown
if BF_SHARDED then
    base = 0
    P = bf_wh_prefix_ch(KEYS[1], 'conns:')
else
    base = 2
    gwchans, gwknown = unpack(KEYS, 1, 2)
    P = bf_wh_prefix(gwknown, 'gwknown')
end
local on = bf_wh_on(P)
for i = 1, #KEYS - base do
    local key, change, channel = KEYS[base + i], ARGV[2 * i], ARGV[2 * i + 1]
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
        if not BF_SHARDED then redis.call('SREM', gwchans, channel) end
    else
        if not BF_SHARDED then redis.call('SADD', gwchans, channel) end
        any = true
    end
    counts[i] = n
    if on then bf_wh_occupancy(P, on, channel, was, redis.call('EXISTS', key) == 1) end
end
if any and not BF_SHARDED then redis.call('SADD', gwknown, ARGV[1]) end
return counts

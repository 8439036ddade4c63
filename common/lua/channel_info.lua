-- keys: 2-3  argv: 0
-- channel_info.lua: occupancy of one channel.
-- KEYS[1]  conns hash (<prefix>conns:{channel})   gateway id -> connection count
-- KEYS[2]  users hash (<prefix>pusers:{channel})  user id -> connection count
-- KEYS[3]  one Redis only: gateways zset (<prefix>{#}:gateways), score = expiry in ms (Redis clock)
-- Reply:   one Redis: {connections on gateways alive now, presence users}
--          Redis Cluster (BF_SHARDED): {{gateway id, count, ...} (HGETALL of KEYS[1]), presence
--          users}: the liveness zset is in the cluster-wide slot, out of reach, and the gateways
--          are too many to pass as arguments (scripts.h, bf_script_args), so the caller sums the
--          counts of the gateways alive in its membership view (the router's heartbeat)
local all = redis.call('HGETALL', KEYS[1])
if BF_SHARDED then return {all, redis.call('HLEN', KEYS[2])} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local conns = 0
for i = 1, #all, 2 do
    local expiry = redis.call('ZSCORE', KEYS[3], all[i])
    if expiry and tonumber(expiry) > now then conns = conns + tonumber(all[i + 1]) end
end
return {conns, redis.call('HLEN', KEYS[2])}

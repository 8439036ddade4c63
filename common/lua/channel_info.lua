-- keys: 3  argv: 0
-- channel_info.lua: occupancy of one channel, counting only gateways that are alive now.
-- KEYS[1]  conns hash (<prefix>conns:{channel})   gateway id -> connection count
-- KEYS[2]  gateways zset (<prefix>{#}:gateways)        score = expiry in ms (Redis clock)
-- KEYS[3]  users hash (<prefix>pusers:{channel})   user id -> connection count
-- Reply:   {connections on live gateways, presence users}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local conns = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
    local expiry = redis.call('ZSCORE', KEYS[2], all[i])
    if expiry and tonumber(expiry) > now then conns = conns + tonumber(all[i + 1]) end
end
return {conns, redis.call('HLEN', KEYS[3])}

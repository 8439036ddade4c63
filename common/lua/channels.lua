-- keys: 1  argv: 3
-- channels.lua: the occupied channels of one app, over every live gateway (the Pusher HTTP API's
-- GET /apps/{id}/channels). Only cluster-wide keys (one slot): a presence channel's user count is
-- read by the caller, per channel, in that channel's slot (router/pusher_query.c).
-- KEYS[1]  gateways zset (<prefix>{#}:gateways)   score = expiry in ms (Redis clock)
-- ARGV[1]  the gwchans key of a gateway without its id (<prefix>{#}:gwchans:)
-- ARGV[2]  the scoped name prefix to match: "APPID/" .. filter, or just the filter for the
--          default app
-- ARGV[3]  "1" for the default app (its channels are the names without a '/')
-- Reply:   {name, name, ...} (scoped names, each once)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seen, out = {}, {}
local pfx, plen = ARGV[2], string.len(ARGV[2])
for _, gw in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
    for _, ch in ipairs(redis.call('SMEMBERS', ARGV[1] .. gw)) do
        if not seen[ch] and string.sub(ch, 1, plen) == pfx and
            (ARGV[3] ~= '1' or not string.find(ch, '/', 1, true)) then
            seen[ch] = true
            out[#out + 1] = ch
        end
    end
end
return out

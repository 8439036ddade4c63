-- uses: wire.lib.lua
-- keys: 1  argv: 5
-- terminate.lua: close every connection of one user in one app, on every gateway (the Pusher HTTP
-- API's POST /apps/{id}/users/{user}/terminate_connections). Connections live in channels, and
-- only presence channels know their users, so a kick envelope (wire.h kind 4: close the user's
-- connections of that channel) goes to every channel of the app with connections on a live
-- gateway; a gateway without such a connection ignores it. O(channels of the app).
-- KEYS[1]  gateways zset (<prefix>{#}:gateways)   score = expiry in ms (Redis clock)
-- ARGV[1]  the gwchans key of a gateway without its id (<prefix>{#}:gwchans:)
-- ARGV[2]  the fan-out subject stem (<prefix>fan:, the subject is stem{channel})
-- ARGV[3]  the app's scope ("APPID/"), or "" for the default app
-- ARGV[4]  the user id   ARGV[5] the reason (the kick envelope's frame)
-- Reply:   the number of channels the kick was sent to
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local seen, n = {}, 0
local scope = ARGV[3]
for _, gw in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
    for _, ch in ipairs(redis.call('SMEMBERS', ARGV[1] .. gw)) do
        local ours
        if scope == '' then
            ours = not string.find(ch, '/', 1, true)
        else
            ours = string.sub(ch, 1, #scope) == scope
        end
        if ours and not seen[ch] then
            seen[ch] = true
            n = n + 1
            redis.call(BF_SHARDED and 'SPUBLISH' or 'PUBLISH', ARGV[2] .. '{' .. ch .. '}', cmsgpack.pack({BF_WIRE_VERSION,
                BF_FAN_KICK, ch, 0, ARGV[5], '', ARGV[4]}))
        end
    end
end
return n

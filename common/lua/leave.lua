-- uses: webhooks.lib.lua
-- keys: 3-5  argv: 2-4
-- leave.lua: remove one node from its membership set (graceful shutdown).
-- KEYS[1]  members zset      KEYS[2]  ring epoch key      KEYS[3]  the node's info hash
-- KEYS[4]  (gateways) the gateway's gwchans set           KEYS[5]  (gateways) gwknown set
-- ARGV[1]  node id           ARGV[2]  "1" to bump the epoch if the node was a member
-- ARGV[3]  (gateways) the conns hash key stem (<prefix>conns:, the key is stem{channel}), or "" on
--          Redis Cluster, where those keys are in other slots: the gateway has removed its counts
--          itself before this call (bf_gateway_leave_send, scripts_split.c)
-- ARGV[4]  (gateways) "1" if the gateway drained cleanly: no connection left and every presence
--          leave acknowledged, so nothing of it is left for the owners' dead-gateway sweep
-- Reply:   the epoch after the change (integer)
-- A gateway's connection counts (its field in conns:{channel} for every channel of its gwchans
-- set) go with it; its gwchans and gwknown entries only after a clean drain, since otherwise the
-- sweep still needs them to find the presence members it left.
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
if #KEYS >= 5 then
    if ARGV[3] ~= '' then
        local WP = bf_wh_prefix(KEYS[5], 'gwknown')
        local on = bf_wh_on(WP)
        for _, channel in ipairs(redis.call('SMEMBERS', KEYS[4])) do
            local conns = ARGV[3] .. '{' .. channel .. '}'
            if redis.call('HDEL', conns, ARGV[1]) == 1 and on and
                redis.call('EXISTS', conns) == 0 then
                bf_wh_occupancy(WP, on, channel, true, false) -- its last connections went with it
            end
        end
    end
    if ARGV[4] == '1' then
        redis.call('DEL', KEYS[4])
        redis.call('SREM', KEYS[5], ARGV[1])
    end
end
if removed == 1 and ARGV[2] == '1' then
    return redis.call('INCR', KEYS[2])
end
return tonumber(redis.call('GET', KEYS[2]) or '0')

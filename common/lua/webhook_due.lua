-- uses: webhooks.lib.lua
-- keys: 1  argv: 1
-- webhook_due.lua: queue channel_vacated for the channels whose vacate delay has passed (any
-- router may call it: each entry is moved exactly once).
-- KEYS[1]  the vacating zset (<prefix>{#}:webhooks:vacating)
-- ARGV[1]  at most this many channels per call
-- Reply:   the number of channel_vacated events queued
local P = bf_wh_prefix(KEYS[1], 'webhooks:vacating')
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', bf_wh_now(), 'LIMIT', 0, tonumber(ARGV[1]))
for _, ch in ipairs(due) do
    redis.call('ZREM', KEYS[1], ch)
    bf_wh_add(P, 'channel_vacated', ch)
end
return #due

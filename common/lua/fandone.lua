-- keys: 1  argv: 4
-- fandone.lua: a gateway has written a channel's messages up to a seq to every local subscriber
-- (gateway/fandone.h); the routers' fan-out window reads it (bf_admit in sequence.lib.lua).
-- KEYS[1]  the channel's fdone:{channel} hash: gateway id -> "<seq> <ms> <d>"
-- ARGV[1]  gateway id   ARGV[2] the seq written   ARGV[3] the hash's lifetime in ms (it goes
--          with a channel nobody reports on any more)
-- ARGV[4]  the channel's name, published on the routers' notice subject <prefix>fdone (the
--          key's prefix, so that no argument looks like a key) so that a router holding
--          publishes for the channel tries them again at once (router/fanout_hold.h)
-- Reply:   1
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- the time the message took, from when it started (bf_admit in sequence.lib.lua): what a refused
-- publisher is told to wait, less what has passed
local d = ''
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
    local s, ms, od = string.match(old, '^(%d+) (%d+) ?(%d*)$')
    if s and tonumber(ARGV[2]) > tonumber(s) then
        d = string.format('%d', now - tonumber(ms))
    elseif od then
        d = od
    end
end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%s %d %s', ARGV[2], now, d))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', string.match(KEYS[1], '^(.*)fdone:{') .. 'fdone', ARGV[4])
return 1

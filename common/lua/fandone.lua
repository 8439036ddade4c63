-- keys: 1  argv: 3
-- fandone.lua: a gateway has written a channel's messages up to a seq to every local subscriber
-- (gateway/fandone.h); the routers' fan-out window reads it (bf_admit in sequence.lib.lua).
-- KEYS[1]  the channel's fdone:{channel} hash: gateway id -> "<seq> <ms>"
-- ARGV[1]  gateway id   ARGV[2] the seq written   ARGV[3] the hash's lifetime in ms (it goes
--          with a channel nobody reports on any more)
-- Reply:   1
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], string.format('%s %d', ARGV[2], now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1

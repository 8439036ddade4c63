-- keys: 5  argv: 4+
-- heartbeat.lua: renew one node's membership, expire dead members, report the live set.
-- KEYS[1]  members zset (score = expiry in ms on the Redis clock)  (<prefix>{#}:routers|gateways)
-- KEYS[2]  ring epoch key                                           (<prefix>{#}:ring:epoch)
-- KEYS[3]  this node's info hash                                    (<prefix>{#}:node:<id>)
-- KEYS[4]  the other kind's members zset (gateways read routers and vice versa)
-- KEYS[5]  the fan-out window's flag (<prefix>{#}:fanout:wanted): present while a live router
--          runs --fanout-window, so that gateways report written fan-outs only then
-- ARGV[1]  node id
-- ARGV[2]  ttl in ms
-- ARGV[3]  "1" to bump the epoch when the member set changes (routers), "0" otherwise
-- ARGV[4]  "1": this router runs --fanout-window (the flag is set for ttl); "0" otherwise
-- ARGV[5..] field, value pairs stored in the info hash
-- Reply:   {epoch, {live member ids, sorted}, {expired member ids}, {live ids of KEYS[4]},
--          1 if the fan-out window's flag is present, else 0}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
end
local added = redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if #ARGV > 4 then
    redis.call('HSET', KEYS[3], unpack(ARGV, 5))
end
if ARGV[4] == '1' then
    redis.call('SET', KEYS[5], '1', 'PX', ttl)
end
redis.call('HSET', KEYS[3], 'last_seen_ms', now)
redis.call('PEXPIRE', KEYS[3], ttl)
-- An epoch that starts from the Redis clock (ms) when the key is missing (first start, or Redis
-- lost its data) can never repeat a number a router still holds from before the loss.
if redis.call('EXISTS', KEYS[2]) == 0 then
    redis.call('SET', KEYS[2], string.format('%d', now))
end
if ARGV[3] == '1' and (added == 1 or #expired > 0) then
    redis.call('INCR', KEYS[2])
end
local epoch = tonumber(redis.call('GET', KEYS[2]) or '0')
local live = redis.call('ZRANGE', KEYS[1], 0, -1)
local others = redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. now, '+inf')
return {epoch, live, expired, others, redis.call('EXISTS', KEYS[5])}

-- leave.lua: remove one node from its membership set (graceful shutdown).
-- KEYS[1]  members zset      KEYS[2]  ring epoch key      KEYS[3]  the node's info hash
-- ARGV[1]  node id           ARGV[2]  "1" to bump the epoch if the node was a member
-- Reply:   the epoch after the change (integer)
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[3])
if removed == 1 and ARGV[2] == '1' then
    return redis.call('INCR', KEYS[2])
end
return tonumber(redis.call('GET', KEYS[2]) or '0')

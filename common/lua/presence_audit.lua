-- keys: 3-4  argv: 2
-- presence_audit.lua: what Redis holds for one gateway in one channel, read in one atomic step
-- (read only; a gateway's reconciliation compares it with what it really has, gateway/reconcile.c).
-- KEYS[1]  pops list      (<prefix>pops:{channel})    presence operations not yet applied
-- KEYS[2]  presence hash  (<prefix>presence:{channel})
-- KEYS[3]  conns hash     (<prefix>conns:{channel})   gateway id -> connection count
-- KEYS[4]  gwchans set    (<prefix>{#}:gwchans:<gateway>); not passed on Redis Cluster, where it is
--          in another slot: the gateway reads it itself (gateway/reconcile.c)
-- ARGV[1]  the gateway id
-- ARGV[2]  the channel
-- Reply:   {operations pending, the gateway's connection count (0 if none), 1 if the channel is
--           in KEYS[4] else 0 (-1 without KEYS[4]), then the gateway's presence connection ids ("<gateway>/<n>")}
local out = {redis.call('LLEN', KEYS[1]), tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0'),
    #KEYS >= 4 and redis.call('SISMEMBER', KEYS[4], ARGV[2]) or -1}
local pfx = ARGV[1] .. '/'
for _, f in ipairs(redis.call('HKEYS', KEYS[2])) do
    if string.sub(f, 1, #pfx) == pfx then out[#out + 1] = f end
end
return out

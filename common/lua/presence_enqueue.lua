-- uses: wire.lib.lua
-- keys: 1-4  argv: 5
-- presence_enqueue.lua: record one presence operation for a channel, to be applied by
-- presence_apply.lua. The reply is the gateway's acknowledgement: from then on the operation is
-- in Redis and will be applied even if every router dies before doing it (the next owner applies
-- what is pending, see router/owner_ops.c). Called by gateways for their connections, and by
-- routers for operations that arrive in their inbox from older gateways, and by belfryctl kick
-- (op 4: the kick is applied, once, even if the owner that received the nudge dies first).
-- KEYS[1]  pops list      (<prefix>pops:{channel})   pending operations, oldest first
-- KEYS[2]  ppending set   (<prefix>{#}:ppending)         channels with pending operations
-- KEYS[3]  gwpres set     (<prefix>{#}:gwpres:<gateway>) channels where the gateway may hold entries
-- KEYS[4]  gwknown set    (<prefix>{#}:gwknown)          gateways that may have state to sweep
-- ARGV[1]  channel   ARGV[2] the operation: an inbox envelope (wire.h, op 1, 2, 3 or 4)
-- ARGV[3]  the gateway id (the part of the connection id before its last '/')
-- ARGV[4]  "1" for a join or rejoin (the gateway is then indexed in KEYS[3] and KEYS[4] before its
--          entry can exist, so that a sweep of the gateway finds it), "0" for a leave
-- ARGV[5]  the inbox subject of the owner the caller believes in, nudged with an "apply"
--          envelope (op 5) so that the operation is applied at once; "" for none
-- Reply:   {operations now pending for the channel, subscribers that received the nudge}
-- Redis Cluster (BF_SHARDED): KEYS[1] only, the channel's slot; the caller indexes a join in
-- gwpres/gwknown before this call and adds the channel to ppending from its reply (the
-- cluster-wide slot: bf_presence_enqueue_send, scripts_split.c). The nudge's subject is no key.
local n = redis.call('RPUSH', KEYS[1], ARGV[2])
if not BF_SHARDED then redis.call('SADD', KEYS[2], ARGV[1]) end
if ARGV[4] == '1' and not BF_SHARDED then
    redis.call('SADD', KEYS[3], ARGV[1])
    redis.call('SADD', KEYS[4], ARGV[3])
end
local receivers = 0
if ARGV[5] ~= '' then
    receivers = redis.call('PUBLISH', ARGV[5], cmsgpack.pack({BF_WIRE_VERSION, BF_OP_APPLY, ARGV[1],
        '', '', '', 0}))
end
return {n, receivers}

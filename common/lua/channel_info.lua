-- keys: 2  argv: 0
-- channel_info.lua: occupancy of one channel, read in one step from the channel's own slot.
-- KEYS[1]  conns hash (<prefix>conns:{channel})   gateway id -> connection count
-- KEYS[2]  users hash (<prefix>pusers:{channel})  user id -> connection count
-- Reply:   {{gateway id, count, ...} (HGETALL of KEYS[1]), presence users}
-- The caller counts only the gateways alive in its membership view (the router's heartbeat,
-- bf_router_live_connections): the liveness zset is cluster-wide, in another slot on Redis
-- Cluster, and the gateways are too many to pass as arguments (scripts.h, bf_script_args).
return {redis.call('HGETALL', KEYS[1]), redis.call('HLEN', KEYS[2])}

-- uses: sequence.lib.lua, presence.lib.lua, webhooks.lib.lua
-- keys: 11-15  argv: 5
-- sweep.lua: remove what a dead gateway left in one channel (owner only, fenced by the epoch).
-- KEYS[1]     presence hash   KEYS[2] users hash
-- KEYS[3..6]  the channel's sequencing keys: seq, fan, epoch, hist (see sequence.lib.lua)
-- KEYS[7]     the fence: the ring epoch key on one Redis; the channel's owner:{channel} on Redis
--             Cluster (BF_SHARDED; raised to the caller's epoch, see bf_fence)
-- KEYS[8]     conns hash      KEYS[9] here zset       KEYS[10] rep hash (presence.lib.lua)
-- KEYS[11]    pops list (the channel's presence operations not yet applied)
-- KEYS[12]    the gateway's gwchans set   KEYS[13] gwknown set
-- KEYS[14]    gateways zset (liveness, score = expiry in ms)
-- KEYS[15]    the gateway's gwpres set (channels where it may hold presence entries)
--             KEYS[12..15] on one Redis only: on Redis Cluster they are in the cluster-wide slot,
--             where the caller checks the gateway's liveness just before this call and removes
--             the channel from the gateway's index entries after it (sweep_index.lua)
-- ARGV[1]  channel   ARGV[2] the caller's ring epoch   ARGV[3] the dead gateway's id
-- ARGV[4]  history size   ARGV[5] history ttl in ms
-- Reply:   one Redis: the number of presence:leave events emitted, -1 if the gateway is alive
--          after all (the caller's view was stale), or an error "STALE ...".
--          Redis Cluster: {presence:leave events emitted, 1 if the channel's pops list is empty
--          else 0}, or an error "STALE ...".
-- Each presence connection of the gateway is removed; a user left with no connection anywhere
-- gets exactly one presence:leave (seq'd) to everyone. The channel stays in the gateway's gwpres
-- set while operations are pending for it (one of the gateway's may still add an entry: the next
-- pass sweeps it); the gateway is forgotten (gwknown) once neither gwchans nor gwpres names a
-- channel.
local refusal = bf_stale(KEYS[7], ARGV[2])
if refusal then return refusal end
if not BF_SHARDED then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local expiry = redis.call('ZSCORE', KEYS[14], ARGV[3])
    if expiry and tonumber(expiry) > now then return -1 end
end
-- webhook keys (webhooks.lib.lua)
local WP = BF_SHARDED and bf_wh_prefix_ch(KEYS[8], 'conns:') or bf_wh_prefix(KEYS[7], 'ring:epoch')
local P = {KEYS[1], KEYS[2], KEYS[9], KEYS[10]}
local pfx = ARGV[3] .. '/'
local leaves = 0
local stale = {}
for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(f, 1, #pfx) == pfx then
        local user = bf_presence_remove(P, f, redis.call('HGET', KEYS[1], f), stale)
        if user ~= nil then
            bf_emit({KEYS[3], KEYS[4], KEYS[5], KEYS[6]}, ARGV[1],
                '{"event":"presence:leave","data":{"member":{"id":' .. cjson.encode(user) ..
                    '}},"seq":', '', '', tonumber(ARGV[4]), tonumber(ARGV[5]))
            bf_wh_member(WP, 'member_removed', ARGV[1], user)
            leaves = leaves + 1
        end
    end
end
if next(stale) then bf_here_rebuild(P, stale) end
if redis.call('HDEL', KEYS[8], ARGV[3]) == 1 and redis.call('EXISTS', KEYS[8]) == 0 then
    bf_wh_occupancy(WP, bf_wh_on(WP), ARGV[1], true, false)
end
local idle = redis.call('LLEN', KEYS[11]) == 0
if BF_SHARDED then return {leaves, idle and 1 or 0} end
redis.call('SREM', KEYS[12], ARGV[1])
if idle then redis.call('SREM', KEYS[15], ARGV[1]) end
if redis.call('SCARD', KEYS[12]) == 0 and redis.call('SCARD', KEYS[15]) == 0 then
    redis.call('SREM', KEYS[13], ARGV[3])
end
return leaves

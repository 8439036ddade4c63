-- uses: sequence.lib.lua, presence.lib.lua, webhooks.lib.lua
-- keys: 15  argv: 5
-- sweep.lua: remove what a dead gateway left in one channel (owner only, fenced by the epoch).
-- KEYS[1]     presence hash   KEYS[2] users hash
-- KEYS[3..6]  the channel's sequencing keys: seq, fan, epoch, hist (see sequence.lib.lua)
-- KEYS[7]     ring epoch key  KEYS[8] conns hash   KEYS[9] the gateway's gwchans set
-- KEYS[10]    gwknown set     KEYS[11] gateways zset (liveness, score = expiry in ms)
-- KEYS[12]    here zset       KEYS[13] rep hash (presence.lib.lua)
-- KEYS[14]    the gateway's gwpres set (channels where it may hold presence entries)
-- KEYS[15]    pops list (the channel's presence operations not yet applied)
-- ARGV[1]  channel   ARGV[2] the caller's ring epoch   ARGV[3] the dead gateway's id
-- ARGV[4]  history size   ARGV[5] history ttl in ms
-- Reply:   the number of presence:leave events emitted, -1 if the gateway is alive after all
--          (the caller's view was stale), or an error "STALE ...".
-- Each presence connection of the gateway is removed; a user left with no connection anywhere
-- gets exactly one presence:leave (seq'd) to everyone. The channel stays in the gateway's gwpres
-- set while operations are pending for it (one of the gateway's may still add an entry: the next
-- pass sweeps it); the gateway is forgotten (gwknown) once neither gwchans nor gwpres names a
-- channel.
local epoch = redis.call('GET', KEYS[7]) or '0'
if epoch ~= ARGV[2] then
    return redis.error_reply('STALE ring epoch ' .. epoch .. ', caller has ' .. ARGV[2])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = redis.call('ZSCORE', KEYS[11], ARGV[3])
if expiry and tonumber(expiry) > now then return -1 end
local P = {KEYS[1], KEYS[2], KEYS[12], KEYS[13]}
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
            bf_wh_member(bf_wh_prefix(KEYS[7], 'ring:epoch'), 'member_removed', ARGV[1], user)
            leaves = leaves + 1
        end
    end
end
if next(stale) then bf_here_rebuild(P, stale) end
if redis.call('HDEL', KEYS[8], ARGV[3]) == 1 and redis.call('EXISTS', KEYS[8]) == 0 then
    local WP = bf_wh_prefix(KEYS[7], 'ring:epoch')
    bf_wh_occupancy(WP, bf_wh_on(WP), ARGV[1], true, false)
end
redis.call('SREM', KEYS[9], ARGV[1])
if redis.call('LLEN', KEYS[15]) == 0 then redis.call('SREM', KEYS[14], ARGV[1]) end
if redis.call('SCARD', KEYS[9]) == 0 and redis.call('SCARD', KEYS[14]) == 0 then
    redis.call('SREM', KEYS[10], ARGV[3])
end
return leaves

-- uses: sequence.lib.lua, presence.lib.lua
-- presence_leave.lua: remove one presence connection (owner only, fenced by the ring epoch).
-- KEYS[1]     presence hash   KEYS[2] users hash
-- KEYS[3..6]  the channel's sequencing keys: seq, fan, epoch, hist (see sequence.lib.lua)
-- KEYS[7]     ring epoch key
-- KEYS[8]     here zset       KEYS[9] rep hash (presence.lib.lua)
-- ARGV[1]  channel   ARGV[2] the caller's ring epoch   ARGV[3] the connection id
-- ARGV[4]  history size   ARGV[5] history ttl in ms
-- Reply:   1 if a presence:leave was emitted, else 0; or an error "STALE ..." (see join).
-- The user id is taken from the stored member, never from the message. A user's last
-- connection leaving emits presence:leave (seq'd) to everyone.
local epoch = redis.call('GET', KEYS[7]) or '0'
if epoch ~= ARGV[2] then
    return redis.error_reply('STALE ring epoch ' .. epoch .. ', caller has ' .. ARGV[2])
end
local P = {KEYS[1], KEYS[2], KEYS[8], KEYS[9]}
local v = redis.call('HGET', P[1], ARGV[3])
if not v then return 0 end
local stale = {}
local user = bf_presence_remove(P, ARGV[3], v, stale)
if next(stale) then bf_here_rebuild(P, stale) end
if user == nil then return 0 end
bf_emit({KEYS[3], KEYS[4], KEYS[5], KEYS[6]}, ARGV[1],
    '{"event":"presence:leave","data":{"member":{"id":' .. cjson.encode(user) .. '}},"seq":',
    '', '', tonumber(ARGV[4]), tonumber(ARGV[5]))
return 1

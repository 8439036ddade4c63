-- presence_leave.lua: remove one presence connection (owner only, fenced by the ring epoch).
-- KEYS[1]  presence hash   KEYS[2] users hash   KEYS[3] seq key   KEYS[4] fan-out subject
-- KEYS[5]  ring epoch key
-- ARGV[1]  channel   ARGV[2] the caller's ring epoch   ARGV[3] the connection id
-- Reply:   1 if a presence:leave was emitted, else 0; or an error "STALE ..." (see join).
-- The user id is taken from the stored member, never from the message. A user's last
-- connection leaving emits presence:leave (seq'd) to everyone.
local epoch = redis.call('GET', KEYS[5]) or '0'
if epoch ~= ARGV[2] then
    return redis.error_reply('STALE ring epoch ' .. epoch .. ', caller has ' .. ARGV[2])
end
local v = redis.call('HGET', KEYS[1], ARGV[3])
if not v then return 0 end
redis.call('HDEL', KEYS[1], ARGV[3])
local ok, m = pcall(cjson.decode, v)
local user = ok and type(m) == 'table' and m.id or nil
if user == nil or redis.call('HINCRBY', KEYS[2], user, -1) > 0 then return 0 end
redis.call('HDEL', KEYS[2], user)
local seq = redis.call('INCR', KEYS[3])
local frame = '{"event":"presence:leave","data":{"member":{"id":' .. cjson.encode(user) ..
    '}},"seq":' .. string.format('%d', seq) .. '}'
redis.call('PUBLISH', KEYS[4], cmsgpack.pack({1, 1, ARGV[1], seq, frame, '', ''}))
return 1

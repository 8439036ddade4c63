-- presence_leave.lua: remove presence connections (owner only, fenced by the ring epoch).
-- KEYS[1]  presence hash   KEYS[2] users hash   KEYS[3] seq key   KEYS[4] fan-out subject
-- KEYS[5]  ring epoch key
-- ARGV[1]  channel   ARGV[2] the caller's ring epoch
-- ARGV[3]  a connection id, or "*<gateway id>/" to remove every connection of a dead gateway
-- Reply:   the number of presence:leave events emitted, or an error "STALE ..." (see join).
-- The user id is taken from the stored member, never from the message. A user's last
-- connection leaving emits presence:leave (seq'd) to everyone.
local epoch = redis.call('GET', KEYS[5]) or '0'
if epoch ~= ARGV[2] then
    return redis.error_reply('STALE ring epoch ' .. epoch .. ', caller has ' .. ARGV[2])
end
local fields = {}
if string.sub(ARGV[3], 1, 1) == '*' then
    local pfx = string.sub(ARGV[3], 2)
    for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
        if string.sub(f, 1, #pfx) == pfx then fields[#fields + 1] = f end
    end
else
    fields[1] = ARGV[3]
end
local leaves = 0
for _, f in ipairs(fields) do
    local v = redis.call('HGET', KEYS[1], f)
    if v then
        redis.call('HDEL', KEYS[1], f)
        local ok, m = pcall(cjson.decode, v)
        local user = ok and type(m) == 'table' and m.id or nil
        if user ~= nil then
            if redis.call('HINCRBY', KEYS[2], user, -1) <= 0 then
                redis.call('HDEL', KEYS[2], user)
                local seq = redis.call('INCR', KEYS[3])
                local frame = '{"event":"presence:leave","data":{"member":{"id":' ..
                    cjson.encode(user) .. '}},"seq":' .. string.format('%d', seq) .. '}'
                redis.call('PUBLISH', KEYS[4], cmsgpack.pack({1, 1, ARGV[1], seq, frame, '', ''}))
                leaves = leaves + 1
            end
        end
    end
end
return leaves

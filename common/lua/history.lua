-- keys: 3  argv: 4
-- history.lua: a channel's position, and the frames a client missed since a known position.
-- KEYS[1]  seq key   KEYS[2] epoch key   KEYS[3] hist stream   (see sequence.lib.lua)
-- ARGV[1]  since: the last seq the client has, "" for the position only, or "*" for everything
--          retained (recovered is then 1)
-- ARGV[2]  the client's epoch (ignored when ARGV[1] is ""; "*" accepts the current one)
-- ARGV[3]  the most frames to return
-- ARGV[4]  "1" to start the channel's epoch if it has none yet (a subscriber that will resume
--          later needs one before the first message), "0" to only read
-- Reply:   {epoch, seq, recovered (1/0), missed, frame, frame, ...}
--          epoch "" and seq 0 for a channel that never had a message. recovered is 1 when the
--          epochs match and every seq in (since, seq] is still retained, and then the frames are
--          exactly those, oldest first (at most ARGV[3]: the caller pages with since = last).
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local epoch = redis.call('GET', KEYS[2])
if not epoch and ARGV[4] ~= '1' then
    epoch = ''
elseif not epoch then
    local t = redis.call('TIME')
    epoch = string.format('%x%05x', tonumber(t[1]), tonumber(t[2]))
    redis.call('SET', KEYS[2], epoch)
end
if ARGV[1] == '' then return {epoch, seq, 0, 0} end
if ARGV[1] == '*' then
    local out = {epoch, seq, 1, 0}
    for _, e in ipairs(redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', tonumber(ARGV[3]))) do
        out[#out + 1] = e[2][2]
    end
    out[4] = #out - 4
    return out
end
local since = tonumber(ARGV[1])
if not since or since < 0 then return redis.error_reply('since must be a non-negative integer') end
local missed = seq - since
if (ARGV[2] ~= epoch and ARGV[2] ~= '*' and since > 0) or missed < 0 then
    return {epoch, seq, 0, seq}
end
if missed == 0 then return {epoch, seq, 1, 0} end
local limit = tonumber(ARGV[3])
local entries = redis.call('XRANGE', KEYS[3], string.format('%d', since + 1) .. '-0', '+',
    'COUNT', limit)
if #entries == 0 or entries[1][1] ~= string.format('%d', since + 1) .. '-1' then
    return {epoch, seq, 0, missed}
end
local out = {epoch, seq, 1, missed}
for _, e in ipairs(entries) do out[#out + 1] = e[2][2] end
return out

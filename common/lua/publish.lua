-- publish.lua: sequence one message and fan it out in one atomic step.
-- KEYS[1]  the channel's seq key            (<prefix>seq:{channel})
-- KEYS[2]  the channel's fan-out subject    (<prefix>fan:{channel})
-- KEYS[3]  the ring epoch key               (<prefix>ring:epoch)
-- ARGV[1]  channel name
-- ARGV[2]  frame prefix, ending in  "seq":  (rendered once by the caller, see message.h)
-- ARGV[3]  connection id to exclude, or ""
-- ARGV[4]  user id to exclude, or ""
-- ARGV[5]  the caller's ring epoch when only the channel's owner may publish (Redis ingress),
--          or "" for an unfenced publish (HTTP: any router may sequence it)
-- Reply:   the message's seq (integer), or an error "STALE ..." when fenced and the caller's
--          epoch is not the current one (the message is then dropped: at-most-once ingress).
if ARGV[5] ~= '' then
    local epoch = redis.call('GET', KEYS[3]) or '0'
    if epoch ~= ARGV[5] then
        return redis.error_reply('STALE ring epoch ' .. epoch .. ', caller has ' .. ARGV[5])
    end
end
local seq = redis.call('INCR', KEYS[1])
local frame = ARGV[2] .. string.format('%d', seq) .. '}'
redis.call('PUBLISH', KEYS[2],
    cmsgpack.pack({1, 1, ARGV[1], seq, frame, ARGV[3], ARGV[4]}))
return seq

-- uses: sequence.lib.lua
-- keys: 4-5  argv: 5
-- publish.lua: sequence one message, fan it out and record it in the history, atomically.
-- KEYS[1..4]  the channel's sequencing keys: seq, fan, epoch, hist (see sequence.lib.lua)
-- KEYS[5]     the ring epoch key, fenced calls only (an unfenced call names only the channel's
--             keys: one slot, as Redis Cluster requires)
-- ARGV[1]  channel name
-- ARGV[2]  frame prefix, ending in  "seq":  (rendered once by the caller, see message.h)
-- ARGV[3]  the caller's ring epoch when only the channel's owner may publish (Redis ingress),
--          or "" for an unfenced publish (HTTP: any router may sequence it)
-- ARGV[4]  history size (0: no history)   ARGV[5] history ttl in ms
-- Reply:   the message's seq (integer), or an error "STALE ..." when fenced and the caller's
--          epoch is not the current one (the message is then dropped: at-most-once ingress).
if ARGV[3] ~= '' then
    local epoch = redis.call('GET', KEYS[5]) or '0'
    if epoch ~= ARGV[3] then
        return redis.error_reply('STALE ring epoch ' .. epoch .. ', caller has ' .. ARGV[3])
    end
end
return bf_emit({KEYS[1], KEYS[2], KEYS[3], KEYS[4]}, ARGV[1], ARGV[2], '', '',
    tonumber(ARGV[4]), tonumber(ARGV[5]))

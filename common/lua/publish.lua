-- uses: sequence.lib.lua
-- keys: 4-5  argv: 5
-- publish.lua: sequence one message, fan it out and record it in the history, atomically.
-- KEYS[1..4]  the channel's sequencing keys: seq, fan, epoch, hist (see sequence.lib.lua)
-- KEYS[5]     fenced calls only: the ring epoch key (<prefix>{#}:ring:epoch) on one Redis; on
--             Redis Cluster (BF_SHARDED) the channel's fence (<prefix>owner:{channel}), since the
--             ring epoch key is in another slot. An unfenced call names only the channel's keys.
-- ARGV[1]  channel name
-- ARGV[2]  frame prefix, ending in  "seq":  (rendered once by the caller, see message.h)
-- ARGV[3]  the caller's ring epoch when only the channel's owner may publish (Redis ingress),
--          or "" for an unfenced publish (HTTP: any router may sequence it)
-- ARGV[4]  history size (0: no history)   ARGV[5] history ttl in ms
-- Reply:   the message's seq (integer), or an error "STALE ..." when fenced and the caller's
--          epoch is not the current one (the message is then dropped: at-most-once ingress).
--          On Redis Cluster "current" means not lower than the channel's fence, which the call
--          then raises to the caller's epoch (the highest epoch wins): the caller checked its
--          ring's ownership just before, and a router that took the channel under a newer ring
--          shuts out the older owner from its first call on. Two routers that both believe they
--          own the channel during a ring change can each publish until the newer one's first
--          call, so an ingress message may be sequenced twice there (docs/architecture.md).
if ARGV[3] ~= '' then
    local refusal = bf_stale(KEYS[5], ARGV[3])
    if refusal then return refusal end
end
return bf_emit({KEYS[1], KEYS[2], KEYS[3], KEYS[4]}, ARGV[1], ARGV[2], '', '',
    tonumber(ARGV[4]), tonumber(ARGV[5]))

-- uses: sequence.lib.lua
-- keys: 5-6  argv: 7
-- publish.lua: sequence one message, fan it out and record it in the history, atomically.
-- KEYS[1..4]  the channel's sequencing keys: seq, fan, epoch, hist (see sequence.lib.lua)
-- KEYS[5]     the channel's fan-out reports, fdone:{channel} (bf_admit in sequence.lib.lua)
-- KEYS[6]     fenced calls only: the ring epoch key (<prefix>{#}:ring:epoch) on one Redis; on
--             Redis Cluster (BF_SHARDED) the channel's fence (<prefix>owner:{channel}), since the
--             ring epoch key is in another slot. An unfenced call names only the channel's keys.
-- ARGV[1]  channel name
-- ARGV[2]  frame prefix, ending in  "seq":  (rendered once by the caller, see message.h)
-- ARGV[3]  the caller's ring epoch when only the channel's owner may publish (Redis ingress),
--          or "" for an unfenced publish (HTTP: any router may sequence it)
-- ARGV[4]  history size (0: no history)   ARGV[5] history ttl in ms
-- ARGV[6]  the fan-out window (0: none)    ARGV[7] its stale time in ms (see bf_admit)
-- Reply:   the message's seq (integer); an error "FANOUT_BUSY ..." when the window refuses it
--          (nothing is sequenced); or an error "STALE ..." when fenced and the caller's
--          epoch is not the current one (the message is then dropped: at-most-once ingress).
--          On Redis Cluster "current" means not lower than the channel's fence, which the call
--          then raises to the caller's epoch (the highest epoch wins): the caller checked its
--          ring's ownership just before, and a router that took the channel under a newer ring
--          shuts out the older owner from its first call on. Two routers that both believe they
--          own the channel during a ring change can each publish until the newer one's first
--          call, so an ingress message may be sequenced twice there (docs/architecture.md).
if ARGV[3] ~= '' then
    local refusal = bf_stale(KEYS[6], ARGV[3])
    if refusal then return refusal end
end
local busy = bf_admit(KEYS[1], KEYS[5], tonumber(ARGV[6]), tonumber(ARGV[7]))
if busy then return busy end
return bf_emit({KEYS[1], KEYS[2], KEYS[3], KEYS[4]}, ARGV[1], ARGV[2], '', '',
    tonumber(ARGV[4]), tonumber(ARGV[5]))

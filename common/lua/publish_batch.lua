-- uses: sequence.lib.lua
-- keys: 5+  argv: 5+
-- publish_batch.lua: sequence, fan out and record several messages on several channels in one
-- atomic call (the Pusher HTTP API: one event to up to 100 channels, or a batch of events). Every
-- target goes through the same bf_emit as publish.lua, so history, seq and recovery are those of
-- any Belfry publish. Unfenced: any router may sequence it, as HTTP publishes.
-- KEYS[5i-4..5i-1]  target i's sequencing keys: seq, fan, epoch, hist (see sequence.lib.lua)
-- KEYS[5i]          target i's fan-out reports, fdone:{channel} (bf_admit in sequence.lib.lua)
-- ARGV[1]  history size (0: no history)   ARGV[2] history ttl in ms
-- ARGV[3]  the fan-out window (0: none)    ARGV[4] its stale time in ms
-- ARGV[5]  M, the number of distinct messages
-- ARGV[6+3(j-1)], ARGV[7+3(j-1)], ARGV[8+3(j-1)]  message j: the frame prefix (ending in
--          "seq":, see message.h), data_raw (the Pusher data string as sent), exclude_socket
--          (a Pusher socket_id or "")
-- ARGV[5+3M+2i-1], ARGV[5+3M+2i]  target i: channel name (scoped), message index j (1-based)
-- Reply:   the targets' seqs, in order (array of integers), or the first target's refusal by the
--          window ("FANOUT_BUSY <gateway> <messages> <ms> <left> <target i>"): every target is checked
--          before any is sequenced, so a batch is taken whole or not at all
local hsize, httl, m = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[5])
local window, stale = tonumber(ARGV[3]), tonumber(ARGV[4])
local base = 5 + 3 * m
local n = #KEYS / 5
if window > 0 then
    for i = 1, n do
        local busy = bf_admit(KEYS[5 * i - 4], KEYS[5 * i], window, stale)
        if busy then
            busy.err = busy.err .. ' ' .. i -- which target, last
            return busy
        end
    end
end
local seqs = {}
for i = 1, n do
    local j = tonumber(ARGV[base + 2 * i])
    local o = 5 + 3 * (j - 1)
    seqs[i] = bf_emit({KEYS[5 * i - 4], KEYS[5 * i - 3], KEYS[5 * i - 2], KEYS[5 * i - 1]},
        ARGV[base + 2 * i - 1], ARGV[o + 1], '', '', hsize, httl, ARGV[o + 2], ARGV[o + 3])
end
return seqs

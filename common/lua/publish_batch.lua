-- uses: sequence.lib.lua
-- keys: 4+  argv: 3+
-- publish_batch.lua: sequence, fan out and record several messages on several channels in one
-- atomic call (the Pusher HTTP API: one event to up to 100 channels, or a batch of events). Every
-- target goes through the same bf_emit as publish.lua, so history, seq and recovery are those of
-- any Belfry publish. Unfenced: any router may sequence it, as HTTP publishes.
-- KEYS[4i-3..4i]  target i's sequencing keys: seq, fan, epoch, hist (see sequence.lib.lua)
-- ARGV[1]  history size (0: no history)   ARGV[2] history ttl in ms
-- ARGV[3]  M, the number of distinct messages
-- ARGV[4+3(j-1)], ARGV[5+3(j-1)], ARGV[6+3(j-1)]  message j: the frame prefix (ending in
--          "seq":, see message.h), data_raw (the Pusher data string as sent), exclude_socket
--          (a Pusher socket_id or "")
-- ARGV[3+3M+2i-1], ARGV[3+3M+2i]  target i: channel name (scoped), message index j (1-based)
-- Reply:   the targets' seqs, in order (array of integers)
local hsize, httl, m = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local base = 3 + 3 * m
local seqs = {}
for i = 1, #KEYS / 4 do
    local j = tonumber(ARGV[base + 2 * i])
    local o = 3 + 3 * (j - 1)
    seqs[i] = bf_emit({KEYS[4 * i - 3], KEYS[4 * i - 2], KEYS[4 * i - 1], KEYS[4 * i]},
        ARGV[base + 2 * i - 1], ARGV[o + 1], '', '', hsize, httl, ARGV[o + 2], ARGV[o + 3])
end
return seqs

-- publish.lua: sequence one message and fan it out in one atomic step.
-- KEYS[1]  the channel's seq key            (<prefix>seq:{channel})
-- KEYS[2]  the channel's fan-out subject    (<prefix>fan:{channel})
-- ARGV[1]  channel name
-- ARGV[2]  frame prefix, ending in  "seq":  (rendered once by the caller, see message.h)
-- ARGV[3]  connection id to exclude, or ""
-- ARGV[4]  user id to exclude, or ""
-- Reply:   the message's seq (integer)
local seq = redis.call('INCR', KEYS[1])
local frame = ARGV[2] .. string.format('%d', seq) .. '}'
redis.call('PUBLISH', KEYS[2],
    cmsgpack.pack({1, 1, ARGV[1], seq, frame, ARGV[3] or '', ARGV[4] or ''}))
return seq

-- wire.lib.lua: the envelope constants of common/wire.h, defined once for the scripts (prepended
-- by scripts.c before any library or script that lists it in its "-- uses:" line). Their values
-- are checked against the C enums by tests/unit/scripts.c.
--   fan-out envelope  {BF_WIRE_VERSION, kind, channel, seq, frame, conn, user[, data_raw,
--                      exclude_socket]}
--   inbox envelope    {BF_WIRE_VERSION, op, channel, conn_id, user_id, payload, hops}
local BF_WIRE_VERSION = 1
local BF_FAN_MESSAGE = 1   -- sequenced, for every connection
local BF_FAN_EPHEMERAL = 2 -- a whisper: no seq
local BF_FAN_DIRECT = 3    -- only for the connection named in `conn` (presence:here)
local BF_FAN_KICK = 4      -- close the connections of `user`; frame is the reason
local BF_OP_JOIN = 1
local BF_OP_LEAVE = 2
local BF_OP_REJOIN = 3
local BF_OP_KICK = 4
local BF_OP_APPLY = 5


-- uses: wire.lib.lua, sequence.lib.lua, presence.lib.lua, webhooks.lib.lua
-- keys: 10-12  argv: 5-7
-- presence_apply.lua: apply a channel's pending presence operations (pops:{channel}), oldest
-- first. Each one is taken off the queue in the same atomic step that applies it, so it is
-- applied exactly once, whoever runs this and however often: no fence is needed, and an owner that
-- dies loses nothing (the next owner applies what is left). See presence_enqueue.lua.
-- KEYS[1]     pops list      (<prefix>pops:{channel})  pending operations, inbox envelopes (wire.h)
-- KEYS[2]     presence hash  KEYS[3] users hash        (presence.lib.lua)
-- KEYS[4..7]  the channel's sequencing keys: seq, fan, epoch, hist (see sequence.lib.lua)
-- KEYS[8]     here zset      KEYS[9] rep hash          (presence.lib.lua)
-- KEYS[10]    gone zset      (<prefix>pgone:{channel}) connection ids that left, score = when (ms)
-- KEYS[11]    ppending set   (<prefix>{#}:ppending)    channels with pending operations
-- KEYS[12]    gateways zset  (liveness, score = expiry in ms on the Redis clock)
--             KEYS[11..12] on one Redis only: on Redis Cluster (BF_SHARDED) they are in the
--             cluster-wide slot, so the caller passes the live gateways (ARGV[6]) and removes the
--             channel from ppending itself when the reply says nothing is pending
-- ARGV[1]  channel   ARGV[2] the most operations to apply in this call
-- ARGV[3]  history size   ARGV[4] history ttl in ms
-- ARGV[5]  how long a departure is remembered in KEYS[10] (ms)
-- ARGV[6]  Redis Cluster only: the live gateways' ids, space-separated (the caller's view)
-- ARGV[7]  Redis Cluster only: "1" when that view is newer than a call that deferred (below)
-- Reply:   {applied, still pending, presence:join emitted, presence:leave emitted, dropped,
--           kicks fanned out}; on Redis Cluster a 7th element, 1 if the call deferred.
-- Deferring (Redis Cluster): the caller's view may not know a gateway that started after its
-- last heartbeat (a restarted gateway is a new id, and its clients' joins come at once). So a
-- join whose gateway the view does not name is put back at the head of the queue and the call
-- stops there (the order of the channel's operations is kept), unless ARGV[7] is "1": the caller
-- then asks for a fresher view and calls again with ARGV[7] = "1" once it has one, where a
-- gateway still missing is dead and its join changes nothing, as on one Redis.
-- Operations are idempotent, which makes a gateway's retry of an operation whose acknowledgement
-- it lost harmless:
--   join (op 1) and rejoin (op 3): adds the connection with the member JSON in the payload. Does
--     nothing (changes nothing, emits nothing) when the connection is already present, when it
--     already left (KEYS[10]: a join that arrives after its leave must not resurrect it), or when
--     its gateway ("<gateway>/<n>") is not alive (an owner's sweep may already have removed its
--     connections; a live gateway re-adds them when it reconciles). A user's first connection
--     emits presence:join (seq'd) to everyone but that user; a join (not a rejoin) also sends the
--     joining connection presence:here, the member list as of its seq.
--   leave (op 2): removes the connection and remembers that it left; does nothing more when it is
--     not present. A user's last connection emits presence:leave (seq'd) to everyone.
--   kick (op 4): fans a kick of the user (m[5]) out to the gateways (fan-out kind 4, the reason in
--     the payload), which close that user's connections (their leaves follow as operations).
-- So per user, presence:join and presence:leave alternate, and so do the member_added and
-- member_removed webhook events queued with them (webhooks.lib.lua). A record that does not
-- decode, or that names another channel, is dropped and counted.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local P = {KEYS[2], KEYS[3], KEYS[8], KEYS[9]}
local S = {KEYS[4], KEYS[5], KEYS[6], KEYS[7]}
local channel, max = ARGV[1], tonumber(ARGV[2])
local hsize, httl, keep = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local applied, joins, leaves, dropped, kicks = 0, 0, 0, 0, 0
-- webhook keys (webhooks.lib.lua)
local WP = BF_SHARDED and bf_wh_prefix_ch(KEYS[1], 'pops:') or bf_wh_prefix(KEYS[11], 'ppending')
local live = nil -- Redis Cluster: the caller's live gateways, as a set
local strict, deferred = ARGV[7] == '1', 0
if BF_SHARDED then
    live = {}
    for id in string.gmatch(ARGV[6], '%S+') do live[id] = true end
end

local function gateway_alive(conn)
    local gw = string.match(conn, '^(.+)/[^/]+$')
    if not gw then return false end
    if live then return live[gw] == true end
    local expiry = redis.call('ZSCORE', KEYS[12], gw)
    return expiry ~= false and expiry ~= nil and tonumber(expiry) > now
end

local function join(conn, user, member, here)
    if redis.call('ZSCORE', KEYS[10], conn) then return end
    if redis.call('HEXISTS', P[1], conn) == 1 then return end
    if not gateway_alive(conn) then return end
    local id, at = bf_member(member)
    if id ~= user then
        dropped = dropped + 1
        return
    end
    local seq = tonumber(redis.call('GET', S[1]) or '0')
    redis.call('HSET', P[1], conn, member)
    if redis.call('HINCRBY', P[2], user, 1) == 1 then
        seq = bf_emit(S, channel,
            '{"event":"presence:join","data":{"member":' .. member .. '},"seq":', '', user, hsize,
            httl)
        joins = joins + 1
        bf_wh_member(WP, 'member_added', channel, user)
    end
    bf_here_offer(P, user, at, member)
    if here then
        local frame = '{"event":"presence:here","data":{"members":[' .. bf_here_list(P) ..
            ']},"seq":' .. string.format('%d', seq) .. '}'
        redis.call(BF_FANOUT, S[2],
            cmsgpack.pack({BF_WIRE_VERSION, BF_FAN_DIRECT, channel, seq, frame, conn, ''}))
    end
end

local function leave(conn)
    redis.call('ZADD', KEYS[10], now, conn)
    redis.call('PEXPIRE', KEYS[10], keep)
    local v = redis.call('HGET', P[1], conn)
    if not v then return end
    local stale = {}
    local user = bf_presence_remove(P, conn, v, stale)
    if next(stale) then bf_here_rebuild(P, stale) end
    if user == nil then return end
    bf_emit(S, channel,
        '{"event":"presence:leave","data":{"member":{"id":' .. cjson.encode(user) .. '}},"seq":',
        '', '', hsize, httl)
    leaves = leaves + 1
    bf_wh_member(WP, 'member_removed', channel, user)
end

redis.call('ZREMRANGEBYSCORE', KEYS[10], '-inf', now - keep)
while applied < max do
    local rec = redis.call('LPOP', KEYS[1])
    if not rec then break end
    applied = applied + 1
    local ok, m = pcall(cmsgpack.unpack, rec)
    if not ok or type(m) ~= 'table' or m[1] ~= BF_WIRE_VERSION or m[3] ~= channel or
        type(m[4]) ~= 'string' or m[4] == '' then
        dropped = dropped + 1
    elseif (m[2] == BF_OP_JOIN or m[2] == BF_OP_REJOIN) and type(m[5]) == 'string' and
        m[5] ~= '' and type(m[6]) == 'string' then
        if live and not strict and not gateway_alive(m[4]) then
            redis.call('LPUSH', KEYS[1], rec) -- a gateway the view may not know yet: deferred
            applied, deferred = applied - 1, 1
            break
        end
        join(m[4], m[5], m[6], m[2] == BF_OP_JOIN)
    elseif m[2] == BF_OP_LEAVE then
        leave(m[4])
    elseif m[2] == BF_OP_KICK and type(m[5]) == 'string' and m[5] ~= '' and
        type(m[6]) == 'string' then
        redis.call(BF_FANOUT, S[2],
            cmsgpack.pack({BF_WIRE_VERSION, BF_FAN_KICK, channel, 0, m[6], '', m[5]}))
        kicks = kicks + 1
    else
        dropped = dropped + 1
    end
end
local pending = redis.call('LLEN', KEYS[1])
if pending == 0 and not BF_SHARDED then redis.call('SREM', KEYS[11], channel) end
if BF_SHARDED then return {applied, pending, joins, leaves, dropped, kicks, deferred} end
return {applied, pending, joins, leaves, dropped, kicks}

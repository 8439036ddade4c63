-- webhooks.lib.lua: queues Pusher webhook events in Redis in the same atomic step as the
-- transition that causes them, so that each transition is queued exactly once, cluster-wide, and
-- nothing is lost when a router dies (prepended by scripts.c to scripts whose first line lists
-- it). The keys hang off P, the cluster-wide keys' stem "<prefix>{#}:" (one slot, redis_keys.h),
-- which a script derives from one of its cluster-wide KEYS whose name ends in a fixed suffix
-- (bf_wh_prefix; the names are listed in redis_keys.h):
--   P..'webhooks'           stream  one entry per event: n=name, c=channel (scoped), t=ms, u=user
--   P..'webhooks:on'        string  written by routers with webhooks configured, with a TTL; its
--                                   value is the vacate delay in ms. Absent: nothing is queued.
--   P..'webhooks:vacating'  zset    channels whose last connection left, score = when their
--                                   channel_vacated is due (webhook_due.lua queues it then)
--
-- On Redis Cluster a channel's script may touch only its channel's slot, and these keys are in
-- another one. In the cluster variant of the channel scripts that queue events (BF_WH_DEFER,
-- prepended by scripts.c with BF_SHARDED), the events are therefore not queued here but recorded
-- in bf_wh_out, and scripts.c makes the script's reply {reply, P, events...}: bf_script_call hands
-- the caller its reply and sends the events to webhook_transitions.lua, in the cluster-wide slot,
-- which applies the webhooks:on check and the vacate delay. A caller that dies between the two
-- calls loses those events: at-most-once on a cluster (docs/operations.md, Redis topologies).
--   bf_wh_out  'm', name, channel, user      a member event
--              'o', channel, '1' | '0'        the channel became occupied | vacated
local bf_wh_out, bf_wh_P = {}, nil

local function bf_wh_prefix(key, suffix)
    return string.sub(key, 1, #key - #suffix)
end

-- P from one of a channel's keys, "<prefix><kind>{<channel>}" with kind = "conns:" for example:
-- the prefix has no brace (config.c), so the first one opens the channel's tag.
local function bf_wh_prefix_ch(key, kind)
    local tag = string.find(key, '{', 1, true)
    return string.sub(key, 1, tag - 1 - #kind) .. '{#}:'
end

local function bf_wh_on(P)
    if BF_WH_DEFER then
        bf_wh_P = P
        return '0' -- record every event: webhook_transitions.lua knows whether they are on
    end
    return redis.call('GET', P .. 'webhooks:on')
end

local function bf_wh_now()
    local t = redis.call('TIME')
    return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Appends one event (the stream is capped: a cluster whose routers stopped delivering cannot
-- grow it without bound).
local function bf_wh_add(P, name, channel, user)
    if user then
        redis.call('XADD', P .. 'webhooks', 'MAXLEN', '~', '100000', '*', 'n', name, 'c', channel,
            't', string.format('%d', bf_wh_now()), 'u', user)
    else
        redis.call('XADD', P .. 'webhooks', 'MAXLEN', '~', '100000', '*', 'n', name, 'c', channel,
            't', string.format('%d', bf_wh_now()))
    end
end

-- member_added / member_removed, when webhooks are on.
local function bf_wh_member(P, name, channel, user)
    if BF_WH_DEFER then
        bf_wh_P = P
        for _, v in ipairs({'m', name, channel, user}) do bf_wh_out[#bf_wh_out + 1] = v end
    elseif bf_wh_on(P) then
        bf_wh_add(P, name, channel, user)
    end
end

-- A channel's occupancy changed from `was` to `now` (booleans); on = bf_wh_on(P). A vacate is
-- held for the delay; an occupy while it is held cancels both (a reconnect produces neither).
local function bf_wh_occupancy(P, on, channel, was, now)
    if not on or was == now then return end
    if BF_WH_DEFER then
        for _, v in ipairs({'o', channel, now and '1' or '0'}) do bf_wh_out[#bf_wh_out + 1] = v end
        return
    end
    if now then
        if redis.call('ZREM', P .. 'webhooks:vacating', channel) == 0 then
            bf_wh_add(P, 'channel_occupied', channel)
        end
    else
        redis.call('ZADD', P .. 'webhooks:vacating', bf_wh_now() + tonumber(on), channel)
    end
end

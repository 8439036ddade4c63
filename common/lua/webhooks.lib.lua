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
local function bf_wh_prefix(key, suffix)
    return string.sub(key, 1, #key - #suffix)
end

local function bf_wh_on(P)
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
    if bf_wh_on(P) then bf_wh_add(P, name, channel, user) end
end

-- A channel's occupancy changed from `was` to `now` (booleans); on = bf_wh_on(P). A vacate is
-- held for the delay; an occupy while it is held cancels both (a reconnect produces neither).
local function bf_wh_occupancy(P, on, channel, was, now)
    if not on or was == now then return end
    if now then
        if redis.call('ZREM', P .. 'webhooks:vacating', channel) == 0 then
            bf_wh_add(P, 'channel_occupied', channel)
        end
    else
        redis.call('ZADD', P .. 'webhooks:vacating', bf_wh_now() + tonumber(on), channel)
    end
end

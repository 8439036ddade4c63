-- uses: wire.lib.lua
-- sequence.lib.lua: shared by every script that sequences a frame (prepended by scripts.c to
-- scripts whose first line is "-- uses: sequence.lib.lua"). The four sequencing keys of a
-- channel are passed together: S = {seq, fan, epoch, hist}.
--   seq    string  the channel's last sequence number
--   fan    pubsub  the channel's fan-out subject
--   epoch  string  the channel's epoch: a new random id whenever its sequence (re)starts
--   hist   stream  the last H frames, entry ids "<seq>-1", field "f" = the frame
-- emit() takes the next seq, completes the frame (prefix ends in  "seq":), publishes the fan-out
-- envelope and appends the frame to the history, all inside the calling script (one atomic step).
-- data_raw and exclude_socket are optional (nil: the envelope keeps its seven elements); a
-- publish through the Pusher HTTP API passes both (see common/wire.h, elements 8 and 9).
-- The fan-out goes out with SPUBLISH on Redis Cluster (BF_SHARDED, prepended by scripts.c: the
-- channel's fan:{channel} is then a shard channel of the channel's slot), PUBLISH otherwise.
local BF_FANOUT = BF_SHARDED and 'SPUBLISH' or 'PUBLISH'
local function bf_emit(S, channel, prefix, exclude_conn, exclude_user, hsize, httl, data_raw,
                       exclude_socket)
    local seq = redis.call('INCR', S[1])
    if redis.call('EXISTS', S[3]) == 0 then
        local t = redis.call('TIME')
        redis.call('SET', S[3], string.format('%x%05x', tonumber(t[1]), tonumber(t[2])))
    end
    local frame = prefix .. string.format('%d', seq) .. '}'
    if data_raw then
        redis.call(BF_FANOUT, S[2], cmsgpack.pack({BF_WIRE_VERSION, BF_FAN_MESSAGE, channel, seq,
            frame, exclude_conn, exclude_user, data_raw, exclude_socket or ''}))
    else
        redis.call(BF_FANOUT, S[2], cmsgpack.pack({BF_WIRE_VERSION, BF_FAN_MESSAGE, channel, seq,
            frame, exclude_conn, exclude_user}))
    end
    if hsize > 0 then
        redis.call('XADD', S[4], 'MAXLEN', hsize, string.format('%d', seq) .. '-1', 'f', frame)
        redis.call('PEXPIRE', S[4], httl)
    end
    return seq
end


-- The ownership fence of a channel on Redis Cluster (<prefix>owner:{channel}: the highest ring
-- epoch of a router that made a fenced call there). true when the caller's epoch is lower (the
-- caller must not act: a router with a newer ring owns the channel); otherwise the fence is
-- raised to the caller's epoch and false is returned. Epochs start from the Redis clock in ms
-- (heartbeat.lua), so they never go back, even after Redis lost the ring epoch key.
-- The fence lives a day after it was last raised (BF_FENCE_TTL_MS), so that a cluster does not
-- keep one key for every channel it ever had: it matters only while a ring change is seen by
-- some routers and not yet by others, seconds; once gone, the next fenced call sets it again.
local BF_FENCE_TTL_MS = 86400000
local function bf_fence(key, epoch)
    local held, mine = tonumber(redis.call('GET', key) or '0'), tonumber(epoch)
    if held > mine then return true end
    if held < mine then redis.call('SET', key, epoch, 'PX', BF_FENCE_TTL_MS) end
    return false
end

-- The owner check of a fenced call, the same in every fenced script: key is the fence (the ring
-- epoch key on one Redis; on Redis Cluster the channel's owner:{channel}, raised by bf_fence),
-- epoch the caller's ring epoch. Returns the error reply "STALE ..." when the caller must not act
-- (on one Redis: its epoch is not the current one; on a cluster: it is lower than the fence),
-- else nil.
local function bf_stale(key, epoch)
    if BF_SHARDED then
        if bf_fence(key, epoch) then
            return redis.error_reply('STALE channel fence ' .. redis.call('GET', key) ..
                ', caller has ' .. epoch)
        end
    else
        local held = redis.call('GET', key) or '0'
        if held ~= epoch then
            return redis.error_reply('STALE ring epoch ' .. held .. ', caller has ' .. epoch)
        end
    end
    return nil
end

-- The fan-out window of a channel (the router's --fanout-window; docs/operations.md,
-- *The fan-out window*). D is the channel's fdone:{channel} hash: gateway id -> "<seq> <ms> <d>",
-- the highest seq of the channel that gateway has written to every local subscriber
-- (fandone.lua, sent by gateways holding at least --fanout-report-min-subs of them); in ms on the
-- Redis clock, when that gateway's oldest unwritten message started (its last report, or the
-- publish that found it caught up, set here); and how long its last message took to be written
-- from then (d, "" until known). A gateway is writing while seq - written >= window, and then
-- the publish is refused: the error reply "FANOUT_BUSY <gateway> <messages> <ms> <left>" names
-- the first such gateway, how many messages it has not finished, for how long, and how long it
-- may still take by its last message (-1: unknown). An entry that has been writing for stale_ms
-- or more is a gateway that stopped reporting (it died, lost a message with its subscriber link,
-- or no longer holds enough subscribers to report): it is removed and not waited for. seqkey is
-- the channel's seq key. Returns the refusal or nil.
local function bf_admit(seqkey, D, window, stale_ms)
    if window <= 0 then return nil end
    local e = redis.call('HGETALL', D)
    if #e == 0 then return nil end
    local seq = tonumber(redis.call('GET', seqkey) or '0')
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local busy
    for i = 1, #e, 2 do
        local w, ms, d = string.match(e[i + 1], '^(%d+) (%d+) ?(%d*)$')
        w, ms = tonumber(w), tonumber(ms)
        if not w then
            redis.call('HDEL', D, e[i])
        elseif w >= seq then
            -- caught up: the message about to be sequenced starts this gateway's clock (a written
            -- seq above the channel's is from before its sequence started again)
            redis.call('HSET', D, e[i], string.format('%d %d %s', seq, now, d))
        elseif seq - w >= window then
            if now - ms >= stale_ms then
                redis.call('HDEL', D, e[i])
            elseif not busy then
                local left = d ~= '' and math.max(tonumber(d) - (now - ms), 0) or -1
                busy = string.format('FANOUT_BUSY %s %d %d %d', e[i], seq - w, now - ms, left)
            end
        end
    end
    if busy then return redis.error_reply(busy) end
    return nil
end

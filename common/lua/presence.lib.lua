-- presence.lib.lua: a channel's presence and its ordered index (used by presence_join,
-- presence_leave and sweep). The four keys are passed together as P = {conns, users, here, rep}:
--   conns  hash  (<prefix>presence:{channel})  connection id -> member JSON {"id","joinedAt","info"}
--   users  hash  (<prefix>pusers:{channel})    user id -> number of its connections
--   here   zset  (<prefix>phere:{channel})     user id, score = its representative's joinedAt
--   rep    hash  (<prefix>prep:{channel})      user id -> its representative's member JSON
-- A user's representative is its connection with the earliest joinedAt. presence:here lists the
-- representatives by joinedAt, then user id: read in that order from `here` and `rep`, so a join
-- costs O(log n) plus the size of the list it sends, with no member decoded or sorted in Lua.

local function bf_member(v)
    local ok, m = pcall(cjson.decode, v)
    if ok and type(m) == 'table' and m.id ~= nil then
        return tostring(m.id), tonumber(m.joinedAt) or 0
    end
    return nil, 0
end

-- Makes v (a connection of user that joined at `at`) the representative if it is the earliest.
local function bf_here_offer(P, user, at, v)
    local cur = redis.call('ZSCORE', P[3], user)
    if not cur or at < tonumber(cur) then
        redis.call('ZADD', P[3], at, user)
        redis.call('HSET', P[4], user, v)
    end
end

-- Recomputes the representatives of the users in `which` (user -> true), or rebuilds the whole
-- index when which is nil, from the connections: O(connections), needed only when a
-- representative leaves while its user keeps other connections, or for presence data written
-- before the index existed.
local function bf_here_rebuild(P, which)
    local best = {}
    for _, v in ipairs(redis.call('HVALS', P[1])) do
        local user, at = bf_member(v)
        if user and (which == nil or which[user]) then
            local b = best[user]
            if not b or at < b.at then best[user] = {at = at, raw = v} end
        end
    end
    if which == nil then
        redis.call('DEL', P[3], P[4])
        which = best
    end
    for user in pairs(which) do
        local b = best[user]
        if b then
            redis.call('ZADD', P[3], b.at, user)
            redis.call('HSET', P[4], user, b.raw)
        else
            redis.call('ZREM', P[3], user)
            redis.call('HDEL', P[4], user)
        end
    end
end

-- The representatives, ordered: the index is rebuilt first when it does not cover every user
-- (data written before it existed). With counts, each member JSON is followed by its user's
-- number of connections (users hash). Used by presence:here and presence_members.lua, so that
-- "one member per user, the earliest joinedAt, ordered by it" is computed here only.
local function bf_here_members(P, counts)
    if redis.call('ZCARD', P[3]) ~= redis.call('HLEN', P[2]) then bf_here_rebuild(P, nil) end
    local users = redis.call('ZRANGE', P[3], 0, -1)
    local out = {}
    for i = 1, #users, 1000 do -- unpack() has a stack limit: fetch in slices
        local last = math.min(i + 999, #users)
        local got = redis.call('HMGET', P[4], unpack(users, i, last))
        local n = counts and redis.call('HMGET', P[2], unpack(users, i, last))
        for j = 1, #got do
            if got[j] then
                out[#out + 1] = got[j]
                if counts then out[#out + 1] = tonumber(n[j]) or 0 end
            end
        end
    end
    return out
end

-- The representatives' member JSON, ordered, joined by commas (the presence:here list body).
local function bf_here_list(P)
    return table.concat(bf_here_members(P, false), ',')
end

-- Removes connection conn, whose member JSON is v. Returns its user id if that was the user's
-- last connection (the caller emits presence:leave), else nil; a user whose representative
-- left but who keeps connections is added to `stale` (for bf_here_rebuild).
local function bf_presence_remove(P, conn, v, stale)
    redis.call('HDEL', P[1], conn)
    local user = bf_member(v)
    if user == nil then return nil end
    if redis.call('HINCRBY', P[2], user, -1) > 0 then
        if redis.call('HGET', P[4], user) == v then stale[user] = true end
        return nil
    end
    redis.call('HDEL', P[2], user)
    redis.call('ZREM', P[3], user)
    redis.call('HDEL', P[4], user)
    return user
end

-- uses: sequence.lib.lua, presence.lib.lua
-- presence_join.lua: add one presence connection (owner only, fenced by the ring epoch).
-- KEYS[1]     presence hash   (<prefix>presence:{channel})  conn id -> member JSON
-- KEYS[2]     users hash      (<prefix>pusers:{channel})    user id -> connection count
-- KEYS[3..6]  the channel's sequencing keys: seq, fan, epoch, hist (see sequence.lib.lua)
-- KEYS[7]     ring epoch key
-- KEYS[8]     here zset       (<prefix>phere:{channel})  } the ordered index of one
-- KEYS[9]     rep hash        (<prefix>prep:{channel})   } member per user (presence.lib.lua)
-- ARGV[1]  channel   ARGV[2] connection id   ARGV[3] user id   ARGV[4] member JSON
-- ARGV[5]  the caller's ring epoch
-- ARGV[6]  "1" to send presence:here to the connection (first join), "0" (re-announce)
-- ARGV[7]  history size   ARGV[8] history ttl in ms
-- Reply:   the channel's seq after the join, or an error "STALE ..." when the caller's epoch is
--          not the current one (the caller refreshes its ring and re-routes).
-- The first connection of a user emits presence:join (seq'd) to everyone but that user's
-- connections; the joining connection always gets presence:here with one member per user
-- (earliest joinedAt), carrying the seq as of which that list is current.
local epoch = redis.call('GET', KEYS[7]) or '0'
if epoch ~= ARGV[5] then
    return redis.error_reply('STALE ring epoch ' .. epoch .. ', caller has ' .. ARGV[5])
end
local P = {KEYS[1], KEYS[2], KEYS[8], KEYS[9]}
local seq = tonumber(redis.call('GET', KEYS[3]) or '0')
if redis.call('HSETNX', P[1], ARGV[2], ARGV[4]) == 1 then
    if redis.call('HINCRBY', P[2], ARGV[3], 1) == 1 then
        seq = bf_emit({KEYS[3], KEYS[4], KEYS[5], KEYS[6]}, ARGV[1],
            '{"event":"presence:join","data":{"member":' .. ARGV[4] .. '},"seq":', '', ARGV[3],
            tonumber(ARGV[7]), tonumber(ARGV[8]))
    end
    local _, at = bf_member(ARGV[4])
    bf_here_offer(P, ARGV[3], at, ARGV[4])
end
if ARGV[6] == '1' then
    local frame = '{"event":"presence:here","data":{"members":[' .. bf_here_list(P) ..
        ']},"seq":' .. string.format('%d', seq) .. '}'
    redis.call('PUBLISH', KEYS[4], cmsgpack.pack({1, 3, ARGV[1], seq, frame, ARGV[2], ''}))
end
return seq

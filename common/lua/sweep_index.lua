-- keys: 4  argv: 3
-- sweep_index.lua: the cluster-wide half of sweeping a dead gateway on Redis Cluster, where
-- sweep.lua runs in the channel's slot and cannot reach these keys (one Redis: sweep.lua does it
-- all in one step). The caller runs it twice per channel: with ARGV[2] = "" just before sweep.lua
-- (is the gateway dead, on the Redis clock?), then from sweep.lua's reply with the channel, to
-- remove the channel from the gateway's index entries (checking liveness again: a gateway that
-- came back keeps its entries, and re-adds what it holds when it reconciles).
-- KEYS[1]  gateways zset (<prefix>{#}:gateways; liveness, score = expiry in ms)
-- KEYS[2]  the gateway's gwchans set   KEYS[3] its gwpres set   KEYS[4] gwknown set
-- ARGV[1]  the gateway's id   ARGV[2] the swept channel, or "" (check only)
-- ARGV[3]  "1" when sweep.lua found the channel's pops list empty: the channel leaves gwpres
--          too (otherwise one of the gateway's operations may still add an entry there)
-- Reply:   -1 if the gateway is alive, else 1 if it was forgotten (gwknown: neither set names a
--          channel any more), else 0
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if expiry and tonumber(expiry) > now then return -1 end
if ARGV[2] == '' then return 0 end
redis.call('SREM', KEYS[2], ARGV[2])
if ARGV[3] == '1' then redis.call('SREM', KEYS[3], ARGV[2]) end
if redis.call('SCARD', KEYS[2]) == 0 and redis.call('SCARD', KEYS[3]) == 0 then
    return redis.call('SREM', KEYS[4], ARGV[1])
end
return 0

-- uses: webhooks.lib.lua
-- keys: 1  argv: 1+
-- webhook_transitions.lua: queue the webhook events that a channel script recorded on Redis
-- Cluster instead of queuing them itself (BF_WH_DEFER, webhooks.lib.lua): bf_script_call sends
-- them here, in the cluster-wide slot, right after the channel script's reply.
-- KEYS[1]  the webhooks:on key (<prefix>{#}:webhooks:on)
-- ARGV     the recorded events, each 'm', name, channel, user (member_added / member_removed) or
--          'o', channel, '1' | '0' (the channel became occupied | vacated: the vacate delay and
--          its cancellation apply as on one Redis)
-- Reply:   the number of events applied, 0 if no router delivers webhooks, or an error for a
--          record it does not know (nothing after it is applied)
local P = bf_wh_prefix(KEYS[1], 'webhooks:on')
local on = bf_wh_on(P)
if not on then return 0 end
local i, n = 1, 0
while i <= #ARGV do
    if ARGV[i] == 'm' and i + 3 <= #ARGV then
        bf_wh_add(P, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
        i = i + 4
    elseif ARGV[i] == 'o' and i + 2 <= #ARGV then
        bf_wh_occupancy(P, on, ARGV[i + 1], ARGV[i + 2] ~= '1', ARGV[i + 2] == '1')
        i = i + 3
    else
        return redis.error_reply('ERR webhook_transitions: bad record at argument ' .. i)
    end
    n = n + 1
end
return n

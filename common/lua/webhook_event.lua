-- uses: webhooks.lib.lua
-- keys: 1  argv: 2+
-- webhook_event.lua: queue a webhook event that no Redis transition makes — client_event (a
-- Pusher client event relayed by a gateway) and cache_miss (a cache channel subscribed with
-- nothing in its history) — when some router delivers webhooks (webhooks.lib.lua).
-- KEYS[1]  the webhooks:on key (<prefix>{#}:webhooks:on)
-- ARGV[1]  the event name   ARGV[2] the channel (scoped)
-- ARGV[3..] field/value pairs stored with it: e (client event name), d (its data as JSON text),
--           s (the sender's socket_id), u (its user id)
-- Reply:   1 if queued, 0 if no router delivers webhooks
local P = bf_wh_prefix(KEYS[1], 'webhooks:on')
if not bf_wh_on(P) then return 0 end
local args = {P .. 'webhooks', 'MAXLEN', '~', '100000', '*', 'n', ARGV[1], 'c', ARGV[2], 't',
    string.format('%d', bf_wh_now())}
for i = 3, #ARGV do args[#args + 1] = ARGV[i] end
redis.call('XADD', unpack(args))
return 1

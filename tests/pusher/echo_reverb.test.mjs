// Laravel Echo configured as a Laravel Reverb application configures it (broadcaster 'reverb', the
// options Laravel's resources/js/echo.js passes for Reverb) works against Belfry unchanged: a
// private channel's listen() receives a trigger of the server SDK, and join() sees the members.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import PusherServer from 'pusher';
import { APP, startCluster, stopCluster, waitFor } from './cluster.mjs';
import { Pusher } from './gw_helpers.mjs';

let cluster;
let sdk;
const closers = [];
before(async () => {
  cluster = await startCluster({ gateways: 2, routers: 1, apps: [APP] });
  sdk = new PusherServer({
    appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1',
    port: String(cluster.routers[0].port), useTLS: false,
  });
});
after(async () => {
  for (const c of closers) c();
  await stopCluster(cluster);
});

/** Echo as a Reverb app's echo.js builds it (VITE_REVERB_* values), on gateway gw. */
async function reverbEcho(gw, user) {
  const { default: Echo } = await import('laravel-echo');
  const e = new Echo({
    broadcaster: 'reverb',
    Pusher,
    key: APP.key,
    wsHost: '127.0.0.1',
    wsPort: cluster.gateways[gw].port,
    wssPort: cluster.gateways[gw].port,
    forceTLS: false,
    enabledTransports: ['ws', 'wss'],
    authorizer: (channel) => ({
      authorize: (socketId, cb) => {
        try {
          cb(false, channel.name.startsWith('presence-')
            ? sdk.authorizeChannel(socketId, channel.name, user)
            : sdk.authorizeChannel(socketId, channel.name));
        } catch (err) {
          cb(true, err);
        }
      },
    }),
  });
  closers.push(() => e.disconnect());
  return e;
}

test("Echo with broadcaster 'reverb': private().listen() gets the SDK's trigger", async () => {
  const echo = await reverbEcho(0, null);
  const got = [];
  let ok = false;
  echo.private('orders.7')
    .subscribed(() => { ok = true; })
    .listen('.OrderShipped', (e) => got.push(e));
  await waitFor(() => ok, { what: 'the private subscription' });
  const r = await sdk.trigger('private-orders.7', 'OrderShipped', { id: 7 });
  assert.equal(r.status, 200);
  await waitFor(() => got.length === 1, { what: 'the event' });
  assert.deepEqual(got[0], { id: 7 });
});

test("Echo with broadcaster 'reverb': join() here/joining across two gateways", async () => {
  const a = await reverbEcho(0, { user_id: 'ann', user_info: { name: 'Ann' } });
  const b = await reverbEcho(1, { user_id: 'ben', user_info: { name: 'Ben' } });
  let hereA = null;
  const joined = [];
  a.join('lobby').here((m) => { hereA = m; }).joining((m) => joined.push(m));
  await waitFor(() => hereA, { what: "ann's here" });
  assert.deepEqual(hereA, [{ name: 'Ann' }]);
  let hereB = null;
  b.join('lobby').here((m) => { hereB = m; });
  await waitFor(() => hereB && joined.length === 1, { what: "ben's here and ann's joining" });
  assert.deepEqual(joined[0], { name: 'Ben' });
  assert.equal(hereB.length, 2);
});

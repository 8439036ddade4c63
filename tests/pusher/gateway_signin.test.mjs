// pusher:signin, #server-to-user-{id} (only for the connection signed in as that user) and cache
// channels (the last event on subscribe, or pusher:cache_miss).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import PusherServer from 'pusher';
import { APP, startCluster, stopCluster, waitFor } from './cluster.mjs';
import {
  connected, publishFanout, publishNative, pusherClient, rawPusher, subscribed,
} from './gw_helpers.mjs';

const sdk = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', useTLS: false });

let cluster;
const closers = [];
before(async () => {
  cluster = await startCluster({ gateways: 2, routers: 1, apps: [APP] });
});
after(async () => {
  for (const c of closers) c();
  await stopCluster(cluster);
});

function signedIn(gw, user) {
  const p = pusherClient(cluster.gateways[gw].port, {
    userAuthentication: {
      customHandler: ({ socketId }, cb) => cb(null, sdk.authenticateUser(socketId, user)),
    },
  });
  closers.push(() => p.disconnect());
  p.signin();
  return p;
}

test('pusher-js signs in and receives server-to-user events on every connection of the user', async () => {
  const a = signedIn(0, { id: '42', name: 'Ada' });
  const b = signedIn(1, { id: '42', name: 'Ada' });
  const other = signedIn(1, { id: '43' });
  const got = { a: [], b: [], other: [] };
  a.user.bind('notice', (d) => got.a.push(d));
  b.user.bind('notice', (d) => got.b.push(d));
  other.user.bind('notice', (d) => got.other.push(d));
  await Promise.all([a, b, other].map((p) => p.user.signinDonePromise));
  assert.deepEqual(a.user.user_data, { id: '42', name: 'Ada' });
  // the #server-to-user channel subscription is confirmed by the gateway
  await waitFor(() => [a, b, other].every((p) => p.user.serverToUserChannel?.subscribed), { what: 'server-to-user subscribed' });
  await publishFanout(cluster.redisPort, '#server-to-user-42', 'notice', { text: 'hi Ada' });
  await waitFor(() => got.a.length === 1 && got.b.length === 1, { what: 'both of Ada\'s connections' });
  assert.deepEqual(got.a[0], { text: 'hi Ada' });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(got.other.length, 0);
});

test('raw: #server-to-user-X without signing in, or as someone else, is refused', async () => {
  const ws = await rawPusher(cluster.gateways[0].port);
  closers.push(() => ws.terminate());
  const sid = (await ws.next((f) => f.event === 'pusher:connection_established')).parsed.socket_id;
  ws.sendJson({ event: 'pusher:subscribe', data: { channel: '#server-to-user-7' } });
  let r = await ws.next((f) => f.event === 'pusher:subscription_error');
  assert.equal(r.data.status, 403);
  assert.match(r.data.error, /sign in/);
  // a bad signin signature: pusher:error, still not signed in
  ws.sendJson({ event: 'pusher:signin', data: { auth: `${APP.key}:${'0'.repeat(64)}`, user_data: '{"id":"7"}' } });
  r = await ws.next((f) => f.event === 'pusher:error');
  assert.match(r.data.message, /invalid signature/);
  const signin = sdk.authenticateUser(sid, { id: '8' });
  ws.sendJson({ event: 'pusher:signin', data: signin });
  r = await ws.next((f) => f.event === 'pusher:signin_success');
  assert.equal(r.parsed.user_data, signin.user_data);
  ws.sendJson({ event: 'pusher:subscribe', data: { channel: '#server-to-user-7' } });
  r = await ws.next((f) => f.event === 'pusher:subscription_error');
  assert.match(r.data.error, /another user/);
  ws.sendJson({ event: 'pusher:subscribe', data: { channel: '#server-to-user-8' } });
  r = await ws.next((f) => f.event === 'pusher_internal:subscription_succeeded');
  assert.equal(r.channel, '#server-to-user-8');
});

test('cache channels: the last event on subscribe, or pusher:cache_miss', async () => {
  await publishNative(cluster.routers[0].port, 'cache-prices', 'Price', { v: 1 });
  await publishNative(cluster.routers[0].port, 'cache-prices', 'Price', { v: 2 });
  const p = pusherClient(cluster.gateways[1].port);
  closers.push(() => p.disconnect());
  await connected(p);
  const got = [];
  const ch = p.subscribe('cache-prices');
  ch.bind('Price', (d) => got.push(d));
  await waitFor(() => got.length === 1, { what: 'the cached event' });
  assert.deepEqual(got[0], { v: 2 });
  let miss = false;
  const empty = p.subscribe('cache-empty');
  empty.bind('pusher:cache_miss', () => { miss = true; });
  await waitFor(() => miss, { what: 'pusher:cache_miss' });
  await subscribed(p, 'not-a-cache'); // no cache frame on ordinary channels
});

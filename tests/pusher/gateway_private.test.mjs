// Pusher private channels: signatures over socket_id:channel with the app secret, computed by the
// `pusher` server SDK as an application's auth endpoint would; bad or missing ones get
// pusher:subscription_error on that channel while the connection and its other channels stay up.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import PusherServer from 'pusher';
import { APP, APP2, startCluster, stopCluster, waitFor } from './cluster.mjs';
import {
  collect, connected, publishNative, pusherClient, rawPusher, subscribed, subscriptionError,
} from './gw_helpers.mjs';

const server = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', useTLS: false });
const other = new PusherServer({ appId: APP2.id, key: APP2.key, secret: APP2.secret, host: '127.0.0.1', useTLS: false });

/** pusher-js authorising channels through `sdk` (what an app's /broadcasting/auth does). */
function authorisingClient(port, sdk = server, tamper = (a) => a) {
  return pusherClient(port, {
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, cb) => cb(null, tamper(sdk.authorizeChannel(socketId, channelName))),
    },
  });
}

let cluster;
const clients = [];
before(async () => {
  cluster = await startCluster({ gateways: 2, routers: 1, apps: [APP, APP2] });
});
after(async () => {
  for (const c of clients) c.disconnect();
  await stopCluster(cluster);
});

test('pusher-js with a signing authorizer subscribes private channels on both gateways', async () => {
  const got = [];
  for (const g of cluster.gateways) {
    const p = authorisingClient(g.port);
    clients.push(p);
    await connected(p);
    const [a, b] = await Promise.all([subscribed(p, 'private-orders'), subscribed(p, 'public-too')]);
    got.push([collect(a, 'OrderShipped'), collect(b, 'E')]);
  }
  await publishNative(cluster.routers[0].port, 'private-orders', 'OrderShipped', { id: 7 });
  await publishNative(cluster.routers[0].port, 'public-too', 'E', 1);
  await waitFor(() => got.every(([a, b]) => a.length === 1 && b.length === 1), { what: 'both events on both gateways' });
  for (const [a] of got) assert.deepEqual(a[0].data, { id: 7 });
});

test('a wrong signature gets subscription_error 403; the connection and other channels stay up', async () => {
  const p = authorisingClient(cluster.gateways[0].port, server, ({ auth }) => ({
    // the signature's last hex digit changed (to another digit: '0' stays '0' one time in 16)
    auth: `${auth.slice(0, -1)}${auth.endsWith('0') ? '1' : '0'}`,
  }));
  clients.push(p);
  await connected(p);
  const pub = collect(await subscribed(p, 'still-here'), 'E');
  const err = await subscriptionError(p, 'private-secret');
  assert.equal(err.status, 403);
  assert.match(err.error, /invalid signature/);
  await publishNative(cluster.routers[0].port, 'private-secret', 'Leak', 1);
  await publishNative(cluster.routers[0].port, 'still-here', 'E', 2);
  await waitFor(() => pub.length === 1, { what: 'the public channel still delivers' });
  assert.equal(p.connection.state, 'connected');
});

test("a signature made with another app's secret is refused", async () => {
  const p = authorisingClient(cluster.gateways[1].port, other,
    ({ auth }) => ({ auth: `${APP.key}:${auth.split(':')[1]}` }));
  clients.push(p);
  await connected(p);
  const err = await subscriptionError(p, 'private-x');
  assert.equal(err.status, 403);
});

test('raw: subscribing a private channel without auth gets 401, a wrong key 401', async () => {
  const ws = await rawPusher(cluster.gateways[0].port);
  const est = await ws.next((f) => f.event === 'pusher:connection_established');
  ws.sendJson({ event: 'pusher:subscribe', data: { channel: 'private-a' } });
  let e = await ws.next((f) => f.event === 'pusher:subscription_error');
  assert.equal(e.channel, 'private-a');
  assert.equal(e.data.status, 401);
  assert.equal(e.data.type, 'AuthError');
  const sig = server.authorizeChannel(est.parsed.socket_id, 'private-b').auth.split(':')[1];
  ws.sendJson({ event: 'pusher:subscribe', data: { channel: 'private-b', auth: `wrong-key:${sig}` } });
  e = await ws.next((f) => f.event === 'pusher:subscription_error');
  assert.equal(e.data.status, 401);
  assert.match(e.data.error, /another app/);
  // the signature is for this socket only: another socket cannot reuse it
  const ws2 = await rawPusher(cluster.gateways[0].port);
  await ws2.next((f) => f.event === 'pusher:connection_established');
  ws2.sendJson({ event: 'pusher:subscribe', data: { channel: 'private-b', auth: `${APP.key}:${sig}` } });
  e = await ws2.next((f) => f.event === 'pusher:subscription_error');
  assert.equal(e.data.status, 403);
  // and with it, this socket gets in
  ws.sendJson({ event: 'pusher:subscribe', data: { channel: 'private-b', auth: `${APP.key}:${sig}` } });
  const ok = await ws.next((f) => f.event === 'pusher_internal:subscription_succeeded');
  assert.equal(ok.channel, 'private-b');
  ws.close();
  ws2.close();
});

test('private-encrypted- channels are private: signed, payload passed through', async () => {
  const ws = await rawPusher(cluster.gateways[1].port);
  const est = await ws.next((f) => f.event === 'pusher:connection_established');
  const name = 'private-encrypted-vault';
  ws.sendJson({ event: 'pusher:subscribe', data: { channel: name } });
  assert.equal((await ws.next((f) => f.event === 'pusher:subscription_error')).data.status, 401);
  // the SDK signs encrypted channels only with an encryption master key: sign by hand
  const sig = createHmac('sha256', APP.secret).update(`${est.parsed.socket_id}:${name}`).digest('hex');
  ws.sendJson({ event: 'pusher:subscribe', data: { channel: name, auth: `${APP.key}:${sig}` } });
  await ws.next((f) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === name);
  await publishNative(cluster.routers[0].port, name, 'Sealed', { ciphertext: 'AAAA', nonce: 'BBBB' });
  const m = await ws.next((f) => f.event === 'Sealed');
  assert.deepEqual(m.parsed, { ciphertext: 'AAAA', nonce: 'BBBB' });
  ws.close();
});

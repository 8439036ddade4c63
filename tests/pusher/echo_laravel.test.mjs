// End to end as a Laravel application runs it: the server SDK (`pusher`, what Laravel's pusher and
// reverb broadcasters use) publishes through a router's Pusher HTTP API; Laravel Echo and pusher-js
// on two gateways receive — data exactly as sent, toOthers() (socket_id) honoured, sendToUser()
// reaching a signed-in user, another app's channels apart.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import PusherServer from 'pusher';
import { APP, APP2, startCluster, stopCluster, waitFor } from './cluster.mjs';
import {
  collect, connected, echoClient, pusherClient, rawPusher, subscribed, within,
} from './gw_helpers.mjs';

let cluster;
let sdk;
let sdk2;
const closers = [];
before(async () => {
  cluster = await startCluster({ gateways: 2, routers: 1, apps: [APP, APP2] });
  const opts = { host: '127.0.0.1', port: String(cluster.routers[0].port), useTLS: false };
  sdk = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, ...opts });
  sdk2 = new PusherServer({ appId: APP2.id, key: APP2.key, secret: APP2.secret, ...opts });
});
after(async () => {
  for (const c of closers) c();
  await stopCluster(cluster);
});

test('SDK trigger reaches Echo on both gateways; toOthers() skips the sender; data exactly as sent', async () => {
  const echos = [];
  const got = [];
  for (const g of [0, 1]) {
    const e = await echoClient(cluster.gateways[g].port, sdk);
    closers.push(() => e.disconnect());
    const list = [];
    const ch = e.private('orders.1').listen('.OrderShipped', (d) => list.push(d));
    await new Promise((resolve) => ch.subscribed(resolve));
    echos.push(e);
    got.push(list);
  }
  const raw = [];
  echos[1].connector.pusher.connection.bind('message', (m) => { if (m.event === 'OrderShipped') raw.push(m); });
  await sdk.trigger('private-orders.1', 'OrderShipped', { id: 1, note: 'é' });
  await waitFor(() => got.every((l) => l.length === 1), { what: 'both Echos' });
  assert.deepEqual(got[0][0], { id: 1, note: 'é' });
  // toOthers(): Laravel sends the socket id of the request's connection
  await sdk.trigger('private-orders.1', 'OrderShipped', { id: 2 }, { socket_id: echos[0].socketId() });
  await waitFor(() => got[1].length === 2, { what: 'the other Echo' });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(got[0].length, 1, 'the excluded socket got the event');
  assert.deepEqual(got[1][1], { id: 2 });
});

test('a data string that is not JSON passes as a string', async () => {
  const p = pusherClient(cluster.gateways[0].port);
  closers.push(() => p.disconnect());
  await connected(p);
  const got = collect(await subscribed(p, 'ticker'), 'Tick');
  await sdk.trigger('ticker', 'Tick', 'not json at all');
  await waitFor(() => got.length === 1, { what: 'the tick' });
  assert.equal(got[0].data, 'not json at all');
});

test('sendToUser reaches every signed-in connection of that user only', async () => {
  const signedIn = (g, user) => {
    const p = pusherClient(cluster.gateways[g].port, {
      userAuthentication: { customHandler: ({ socketId }, cb) => cb(null, sdk.authenticateUser(socketId, user)) },
    });
    closers.push(() => p.disconnect());
    p.signin();
    return p;
  };
  const a = signedIn(0, { id: 'u-1' });
  const b = signedIn(1, { id: 'u-1' });
  const c = signedIn(1, { id: 'u-2' });
  const got = new Map([[a, []], [b, []], [c, []]]);
  for (const [p, l] of got) p.user.bind('hello', (d) => l.push(d));
  await waitFor(() => [a, b, c].every((p) => p.user.serverToUserChannel?.subscribed), { what: 'signed in' });
  await sdk.sendToUser('u-1', 'hello', { n: 1 });
  await waitFor(() => got.get(a).length === 1 && got.get(b).length === 1, { what: 'both of u-1' });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(got.get(c).length, 0);
});

test("another app's publish does not reach this app's channel of the same name", async () => {
  const p1 = pusherClient(cluster.gateways[0].port);
  const p2 = pusherClient(cluster.gateways[1].port, { app: APP2 });
  closers.push(() => p1.disconnect(), () => p2.disconnect());
  await Promise.all([connected(p1), connected(p2)]);
  const g1 = collect(await subscribed(p1, 'same-name'), 'E');
  const g2 = collect(await subscribed(p2, 'same-name'), 'E');
  await sdk2.trigger('same-name', 'E', { app: 2 });
  await waitFor(() => g2.length === 1, { what: 'app 2 client' });
  await sdk.trigger('same-name', 'E', { app: 1 });
  await waitFor(() => g1.length === 1, { what: 'app 1 client' });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(g1.map((e) => e.data), [{ app: 1 }]);
  assert.deepEqual(g2.map((e) => e.data), [{ app: 2 }]);
});

test("terminateUserConnections closes the user's signed-in connections on every gateway with 4009", async () => {
  const signedIn = async (g, id) => {
    const ws = await rawPusher(cluster.gateways[g].port);
    closers.push(() => ws.terminate());
    const sid = (await ws.next((f) => f.event === 'pusher:connection_established')).parsed.socket_id;
    ws.sendJson({ event: 'pusher:signin', data: sdk.authenticateUser(sid, { id }) });
    await ws.next((f) => f.event === 'pusher:signin_success');
    ws.sendJson({ event: 'pusher:subscribe', data: { channel: `#server-to-user-${id}` } });
    await ws.next((f) => f.event === 'pusher_internal:subscription_succeeded');
    ws.sendJson({ event: 'pusher:subscribe', data: { channel: 'lobby' } });
    await ws.next((f) => f.event === 'pusher_internal:subscription_succeeded');
    return ws;
  };
  const a = await signedIn(0, 'bad-user');
  const b = await signedIn(1, 'bad-user');
  const other = await signedIn(1, 'good-user');
  await sdk.terminateUserConnections('bad-user');
  assert.equal((await within(a.closed, 'the close on gateway 0')).code, 4009);
  assert.equal((await within(b.closed, 'the close on gateway 1')).code, 4009);
  other.sendJson({ event: 'pusher:ping', data: {} });
  await other.next((f) => f.event === 'pusher:pong', 'the other user stays connected');
});

// The server SDK and pusher-js end to end: a trigger reaches pusher-js clients on both gateways
// with data as sent, socket_id excludes exactly one connection on whichever gateway it lives
// (Laravel's toOthers()), and apps share nothing.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import Pusher from 'pusher';
import { APP, APP2, startCluster, stopCluster, waitFor } from './cluster.mjs';
import {
  collect, connected, pusherClient, subscribed,
} from './gw_helpers.mjs';

let cluster;
const clients = [];
const sdkFor = (app) => new Pusher({
  appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1',
  port: String(cluster.routers[0].port), useTLS: false,
});

before(async () => {
  cluster = await startCluster({ gateways: 2, routers: 1, apps: [APP, APP2] });
});
after(async () => {
  for (const c of clients) c.disconnect();
  await stopCluster(cluster);
});

async function client(gw, app = APP) {
  const c = pusherClient(cluster.gateways[gw].port, { app });
  clients.push(c);
  const socketId = await connected(c);
  return { c, socketId };
}

test('trigger with socket_id: every pusher-js client but that one, on both gateways', async () => {
  const a = await client(0);
  const b = await client(1);
  const a2 = await client(1); // same gateway as b
  const got = [];
  for (const x of [a, b, a2]) got.push(collect(await subscribed(x.c, 'js-news'), 'update'));
  const sdk = sdkFor(APP);
  await sdk.trigger('js-news', 'update', { n: 1 }, { socket_id: b.socketId });
  await sdk.trigger('js-news', 'update', 'plain text, not JSON');
  await waitFor(() => got[0].length === 2 && got[2].length === 2 && got[1].length === 1,
    { what: 'deliveries' });
  assert.deepEqual(got[0].map((g) => g.data), [{ n: 1 }, 'plain text, not JSON']);
  assert.deepEqual(got[2].map((g) => g.data), [{ n: 1 }, 'plain text, not JSON']);
  assert.deepEqual(got[1].map((g) => g.data), ['plain text, not JSON'], 'the excluded socket');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(got[1].length, 1);
});

test("another app's trigger reaches only its own clients", async () => {
  const mine = await client(0, APP);
  const theirs = await client(1, APP2);
  const gMine = collect(await subscribed(mine.c, 'js-apps'), 'e');
  const gTheirs = collect(await subscribed(theirs.c, 'js-apps'), 'e');
  await sdkFor(APP2).trigger('js-apps', 'e', { app: 2 });
  await sdkFor(APP).trigger('js-apps', 'e', { app: 1 });
  await waitFor(() => gMine.length === 1 && gTheirs.length === 1, { what: 'deliveries' });
  assert.deepEqual(gMine[0].data, { app: 1 });
  assert.deepEqual(gTheirs[0].data, { app: 2 });
  const info = await (await sdkFor(APP2).get({ path: '/channels/js-apps',
    params: { info: 'subscription_count' } })).json();
  assert.deepEqual(info, { occupied: true, subscription_count: 1 });
});

function signedIn(gw, user) {
  const sdk = sdkFor(APP);
  const p = pusherClient(cluster.gateways[gw].port, {
    userAuthentication: {
      customHandler: ({ socketId }, cb) => cb(null, sdk.authenticateUser(socketId, user)),
    },
  });
  clients.push(p);
  p.signin();
  return p;
}

test('sendToUser and terminateUserConnections reach every connection signed in as the user', async () => {
  const a = signedIn(0, { id: '42' });
  const b = signedIn(1, { id: '42' });
  const other = signedIn(1, { id: '43' });
  const got = { a: [], b: [], other: [] };
  const closed = { a: null, b: null, other: null };
  for (const [k, p] of Object.entries({ a, b, other })) {
    p.user.bind('notice', (d) => got[k].push(d));
    p.connection.bind('state_change', (s) => {
      if (s.current === 'disconnected' || s.current === 'unavailable' || s.current === 'failed')
        closed[k] ??= s.current;
    });
  }
  await waitFor(() => [a, b, other].every((p) => p.user.serverToUserChannel?.subscribed),
    { what: 'server-to-user subscriptions' });
  const sdk = sdkFor(APP);
  const res = await sdk.sendToUser('42', 'notice', { text: 'hi' });
  assert.equal(res.status, 200);
  await waitFor(() => got.a.length === 1 && got.b.length === 1, { what: "both of 42's connections" });
  assert.deepEqual(got.a[0], { text: 'hi' });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(got.other.length, 0);
  // a user id the gateway could never sign in is refused
  await assert.rejects(sdk.post({ path: '/events', body: {
    name: 'x', channels: [`#server-to-user-${'x'.repeat(129)}`], data: '1' } }),
  (e) => e.status === 400);
  // every connection of 42, on both gateways, is closed; 43 keeps its own
  const t = await sdk.terminateUserConnections('42');
  assert.equal(t.status, 200);
  await waitFor(() => closed.a && closed.b, { what: "42's connections closed" });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(closed.other, null);
});

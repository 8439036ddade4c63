// Presence over the Pusher protocol with Laravel Echo's join().here().joining().leaving(), across
// two gateways: one member per user, joining/leaving once per user and never to the user itself.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import PusherServer from 'pusher';
import { APP, startCluster, stopCluster, waitFor } from './cluster.mjs';
import { echoClient } from './gw_helpers.mjs';

const sdk = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', useTLS: false });
const ALICE = { user_id: 'alice', user_info: { name: 'Alice' } };
const BOB = { user_id: 'bob', user_info: { name: 'Bob' } };

let cluster;
const echos = [];
before(async () => {
  cluster = await startCluster({ gateways: 2, routers: 1, apps: [APP] });
});
after(async () => {
  for (const e of echos) e.disconnect();
  await stopCluster(cluster);
});

/** Echo joined to presence-{room} as user; records here/joining/leaving. */
async function member(gw, user, room) {
  const echo = await echoClient(cluster.gateways[gw].port, sdk, user);
  echos.push(echo);
  const log = { here: null, joining: [], leaving: [], echo };
  echo.join(room)
    .here((users) => { log.here = users; })
    .joining((u) => log.joining.push(u))
    .leaving((u) => log.leaving.push(u))
    .error((e) => { log.error = e; });
  await waitFor(() => log.here !== null || log.error, { what: `${user.user_id}'s here()` });
  assert.equal(log.error, undefined, JSON.stringify(log.error));
  return log;
}

const names = (us) => us.map((u) => u.name).sort();

test('here, joining and leaving across two gateways, once per user', async () => {
  const alice = await member(0, ALICE, 'room');
  assert.deepEqual(names(alice.here), ['Alice']);
  const bob = await member(1, BOB, 'room');
  assert.deepEqual(names(bob.here), ['Alice', 'Bob'], 'here lists every gateway\'s members');
  await waitFor(() => alice.joining.length === 1, { what: 'alice sees bob join' });
  assert.deepEqual(alice.joining[0], { name: 'Bob' });
  // bob's second tab, on the other gateway: the same member, no second joining
  const bob2 = await member(0, BOB, 'room');
  assert.deepEqual(names(bob2.here), ['Alice', 'Bob']);
  assert.equal(bob.joining.length, 0, 'never to the joining user');
  assert.equal(bob2.joining.length, 0);
  bob2.echo.disconnect();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(alice.leaving.length, 0, 'bob still has a connection');
  bob.echo.disconnect();
  await waitFor(() => alice.leaving.length === 1, { what: 'alice sees bob leave' });
  assert.deepEqual(alice.leaving[0], { name: 'Bob' });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(alice.joining.length, 1);
  assert.equal(alice.leaving.length, 1);
});

test('Echo private().listen() receives a native publish', async () => {
  const echo = await echoClient(cluster.gateways[1].port, sdk);
  echos.push(echo);
  const got = [];
  const ch = echo.private('orders.7').listen('.OrderShipped', (e) => got.push(e));
  await new Promise((resolve) => ch.subscribed(resolve));
  const r = await fetch(`http://127.0.0.1:${cluster.routers[0].port}/broadcast/private-orders.7`, {
    method: 'POST',
    headers: { authorization: 'Bearer pusher-test-api-key-0123456789abcdef' },
    body: JSON.stringify({ event: 'OrderShipped', data: { id: 7 } }),
  });
  assert.ok(r.ok, String(r.status));
  await waitFor(() => got.length === 1, { what: 'the event' });
  assert.deepEqual(got[0], { id: 7 });
});

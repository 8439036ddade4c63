// Pusher public channels on the gateway: /app/{key}, connection_established, ping/pong, many
// channels on one connection, publishes from the native HTTP API and Redis ingress reaching
// pusher-js clients on two gateways.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { APP, APP2, startCluster, stopCluster, waitFor } from './cluster.mjs';
import {
  collect, connected, publishNative, publishRedis, pusherClient, rawPusher, subscribed,
} from './gw_helpers.mjs';

let cluster;
const clients = [];
before(async () => {
  cluster = await startCluster({ gateways: 2, routers: 1, apps: [APP, APP2] });
});
after(async () => {
  for (const c of clients) c.disconnect();
  await stopCluster(cluster);
});

test('connection_established carries a cluster-unique socket_id and activity_timeout', async () => {
  const a = await rawPusher(cluster.gateways[0].port);
  const b = await rawPusher(cluster.gateways[1].port);
  const fa = await a.next((f) => f.event === 'pusher:connection_established');
  const fb = await b.next((f) => f.event === 'pusher:connection_established');
  assert.equal(typeof fa.data, 'string', 'data is a JSON-encoded string');
  assert.match(fa.parsed.socket_id, /^\d+\.\d+$/);
  assert.match(fb.parsed.socket_id, /^\d+\.\d+$/);
  assert.notEqual(fa.parsed.socket_id, fb.parsed.socket_id);
  assert.notEqual(fa.parsed.socket_id.split('.')[0], fb.parsed.socket_id.split('.')[0],
    'two gateways have different socket id prefixes');
  assert.equal(fa.parsed.activity_timeout, 120);
  a.sendJson({ event: 'pusher:ping', data: {} });
  const pong = await a.next((f) => f.event === 'pusher:pong');
  assert.deepEqual(pong.parsed, {});
  a.close();
  b.close();
});

test('an unknown app key is closed with 4001', async () => {
  const ws = await rawPusher(cluster.gateways[0].port, 'no-such-key', { open: false });
  const { code, reason } = await ws.closed;
  assert.equal(code, 4001);
  assert.match(reason, /unknown app key/);
});

test('pusher-js: three channels on one connection per gateway, native HTTP and Redis publishes', async () => {
  const router = cluster.routers[0].port;
  const got = [];
  // the same name in another app is another channel: it must get nothing
  const other = pusherClient(cluster.gateways[0].port, { app: APP2 });
  clients.push(other);
  await connected(other);
  const otherNews = collect(await subscribed(other, 'news'), 'Update');
  for (const g of cluster.gateways) {
    const p = pusherClient(g.port);
    clients.push(p);
    await connected(p);
    const chans = await Promise.all(['news', 'sport', 'weather'].map((n) => subscribed(p, n)));
    got.push(chans.map((ch) => collect(ch, 'Update')));
  }
  await publishNative(router, 'news', 'Update', { n: 1, text: 'héllo' });
  await publishNative(router, 'sport', 'Update', 'a string');
  await publishRedis(cluster.redisPort, 'weather', 'Update', { n: 3 });
  await publishNative(router, 'elsewhere', 'Update', { n: 4 }); // nobody subscribed
  await waitFor(() => got.every((g) => g.every((c) => c.length >= 1)), { what: 'every channel on both gateways' });
  for (const [news, sport, weather] of got) {
    assert.deepEqual(news.map((e) => e.data), [{ n: 1, text: 'héllo' }]);
    assert.deepEqual(sport.map((e) => e.data), ['a string']);
    assert.deepEqual(weather.map((e) => e.data), [{ n: 3 }]);
  }
  assert.equal(otherNews.length, 0, "another app's channel of the same name got the publish");
});

test('unsubscribe stops delivery on that channel only', async () => {
  const p = pusherClient(cluster.gateways[1].port);
  clients.push(p);
  await connected(p);
  const a = collect(await subscribed(p, 'unsub-a'), 'E');
  const b = collect(await subscribed(p, 'unsub-b'), 'E');
  p.unsubscribe('unsub-a');
  // a barrier: the gateway reads a connection's frames in order, so once a later subscription
  // succeeded the unsubscribe has been done
  await subscribed(p, 'unsub-c');
  await publishNative(cluster.routers[0].port, 'unsub-a', 'E', 1);
  await publishNative(cluster.routers[0].port, 'unsub-b', 'E', 2);
  await waitFor(() => b.length === 1, { what: 'unsub-b event' });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(a.length, 0);
});

test('the 101st channel on one connection gets pusher:subscription_error', async () => {
  const ws = await rawPusher(cluster.gateways[0].port);
  await ws.next((f) => f.event === 'pusher:connection_established');
  for (let i = 0; i < 101; i++) ws.sendJson({ event: 'pusher:subscribe', data: { channel: `many-${i}` } });
  const err = await ws.next((f) => f.event === 'pusher:subscription_error', 'subscription_error');
  assert.equal(err.channel, 'many-100');
  assert.equal(err.data.status, 429);
  assert.match(err.data.error, /max-channels-per-connection/);
  await waitFor(() => ws.frames.filter((f) => f.event === 'pusher_internal:subscription_succeeded').length === 100,
    { what: '100 subscription_succeeded' });
  ws.sendJson({ event: 'pusher:ping', data: {} });
  await ws.next((f) => f.event === 'pusher:pong', 'the connection is still up');
  ws.close();
});

test('without any configured app /app/{key} is closed with 4001, and the log says why', async () => {
  const solo = await startCluster({ gateways: 1, routers: 0, apps: [] });
  try {
    const ws = await rawPusher(solo.gateways[0].port, 'any-key', { open: false });
    const { code, reason } = await ws.closed;
    assert.equal(code, 4001);
    assert.match(reason, /no apps are configured/);
    await waitFor(() => /no apps are configured/.test(solo.gateways[0].log), { what: 'the log line' });
  } finally {
    await solo.stop();
  }
});

test('--insecure-any-token without apps: any key reaches the implicit app, public channels only', async () => {
  const dev = await startCluster({ gateways: 1, routers: 1, apps: [], gatewayArgs: ['--insecure-any-token'] });
  try {
    const ws = await rawPusher(dev.gateways[0].port, 'whatever');
    await ws.next((f) => f.event === 'pusher:connection_established');
    ws.sendJson({ event: 'pusher:subscribe', data: { channel: 'dev-news' } });
    await ws.next((f) => f.event === 'pusher_internal:subscription_succeeded');
    await publishNative(dev.routers[0].port, 'dev-news', 'E', 1);
    assert.equal((await ws.next((f) => f.event === 'E')).data, '1');
    // the implicit app has no secret: nothing signed can pass
    ws.sendJson({ event: 'pusher:subscribe', data: { channel: 'private-x', auth: `:${'0'.repeat(64)}` } });
    const e = await ws.next((f) => f.event === 'pusher:subscription_error');
    assert.equal(e.channel, 'private-x');
    ws.close();
  } finally {
    await dev.stop();
  }
});

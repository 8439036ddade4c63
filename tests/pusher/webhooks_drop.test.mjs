// A webhook receiver that keeps failing: retried with backoff until --webhook-retry-max-ms, then
// the events are dropped, logged and counted — and the router goes on delivering later events.
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import { APP, redisCommand, startCluster, stopCluster, waitFor } from './cluster.mjs';
import { nativeSub } from './http_helpers.mjs';

let server;
let cluster;
const seen = []; // { at, channel, status }
let failing = true;

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const { events } = JSON.parse(body);
      const status = failing ? 503 : 200;
      for (const e of events) seen.push({ at: Date.now(), channel: e.channel, name: e.name, status });
      res.writeHead(status);
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cluster = await startCluster({
    gateways: 1,
    routers: 1,
    apps: [APP],
    routerArgs: ['--webhook', `${APP.id}=http://127.0.0.1:${server.address().port}/h`,
      '--webhook-retry-initial-ms', '100', '--webhook-retry-max-ms', '1500',
      '--webhook-vacate-delay', '0', '--log-level', 'info'],
  });
});

after(async () => {
  try {
    await stopCluster(cluster);
  } finally {
    server?.close();
  }
});

async function metric(name) {
  const m = await (await fetch(`http://127.0.0.1:${cluster.routers[0].port}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(m)[1]);
}

test('retried with backoff, dropped after the retry window, counted and logged', async () => {
  const s = await nativeSub(cluster.gateways[0].port, 'drop-me');
  await waitFor(async () => (await metric('belfry_router_webhooks_dropped_events_total')) === 1,
    { what: 'the event dropped', timeout: 10000 });
  const tries = seen.filter((e) => e.channel === 'drop-me');
  assert.ok(tries.length >= 3, `${tries.length} attempts`);
  const span = tries[tries.length - 1].at - tries[0].at;
  assert.ok(span >= 1000 && span <= 3000, `attempts spread over ${span} ms`);
  // the delays double (common/backoff.c, unit-tested there): far fewer attempts than a fixed
  // 100 ms retry would make in the window
  assert.ok(tries.length <= 8, `${tries.length} attempts`);
  assert.match(cluster.routers[0].log, /webhook to http:\/\/127\.0\.0\.1:\d+\/h \(app 1001\) dropped after \d+ attempts/);
  assert.ok((await metric('belfry_router_webhooks_failed_total')) >= 3);
  assert.equal(await metric('belfry_router_webhooks_pending_events'), 0);
  // later events still go out
  failing = false;
  s.close();
  await waitFor(() => seen.some((e) => e.channel === 'drop-me' && e.name === 'channel_vacated'
    && e.status === 200), { what: 'a later event delivered' });
  await waitFor(async () => (await metric('belfry_router_webhooks_delivered_events_total')) === 1,
    { what: 'the delivery counted' });
});

test('the stream and its consumer group lost in Redis (DEL, FLUSHALL): recreated, delivery goes on', async () => {
  failing = false;
  assert.equal(await redisCommand(cluster.redisPort, 'DEL', 'belfry:{#}:webhooks'), 1);
  const s = await nativeSub(cluster.gateways[0].port, 'after-loss');
  await waitFor(() => seen.some((e) => e.channel === 'after-loss' && e.name === 'channel_occupied'
    && e.status === 200), { what: 'delivery after the group was lost', timeout: 10000 });
  s.close();
});

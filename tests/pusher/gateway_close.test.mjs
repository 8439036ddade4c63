// Close codes with pusher-js' meanings: drain 4200 (reconnect at once, through the load balancer
// to another gateway), per-IP limit and slow consumer 4100 (back off), missed pong 4201,
// oversized 1009.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { APP, freePort, startCluster, stopCluster, waitFor } from './cluster.mjs';
import {
  collect, connected, publishNative, pusherClient, rawPusher, subscribed, WebSocket,
} from './gw_helpers.mjs';

/** A TCP load balancer: each connection goes to the first backend that accepts it. */
async function balancer(backends) {
  const port = await freePort();
  const socks = new Set();
  const srv = net.createServer((client) => {
    socks.add(client);
    client.on('close', () => socks.delete(client));
    client.pause();
    const tryAt = (i) => {
      if (i >= backends.length) return client.destroy();
      const up = net.connect(backends[i](), '127.0.0.1');
      up.once('error', () => tryAt(i + 1));
      up.once('connect', () => {
        socks.add(up);
        up.on('close', () => socks.delete(up));
        up.removeAllListeners('error');
        up.on('error', () => client.destroy());
        client.on('error', () => up.destroy());
        client.pipe(up).pipe(client);
        client.resume();
      });
    };
    tryAt(0);
  });
  await new Promise((r) => srv.listen(port, '127.0.0.1', r));
  return { port, close: () => { for (const s of socks) s.destroy(); srv.close(); } };
}

let cluster;
const closers = [];
before(async () => {
  cluster = await startCluster({
    gateways: 2, routers: 1, apps: [APP],
    gatewayArgs: ['--ping-interval', '1', '--ping-timeout', '1'],
  });
});
after(async () => {
  for (const c of closers) c();
  await stopCluster(cluster);
});

test('a client that does not answer pings is closed with 4201', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${cluster.gateways[1].port}/app/${APP.key}`, { autoPong: false });
  closers.push(() => ws.terminate());
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  assert.equal(await closed, 4201);
});

test('a message over --max-message-bytes closes with 1009', async () => {
  const ws = await rawPusher(cluster.gateways[1].port);
  closers.push(() => ws.terminate());
  await ws.next((f) => f.event === 'pusher:connection_established');
  ws.sendJson({ event: 'client-big', channel: 'private-x', data: 'x'.repeat(20000) });
  assert.equal((await ws.closed).code, 1009);
});

test('SIGTERM drains with 4200; pusher-js reconnects at once through the balancer to the other gateway', async () => {
  const lb = await balancer([() => cluster.gateways[0].port, () => cluster.gateways[1].port]);
  closers.push(lb.close);
  const p = pusherClient(lb.port);
  closers.push(() => p.disconnect());
  const firstId = await connected(p);
  const got = collect(await subscribed(p, 'drained'), 'E');
  const raw = await rawPusher(cluster.gateways[0].port);
  await raw.next((f) => f.event === 'pusher:connection_established');
  const states = [];
  p.connection.bind('state_change', ({ current }) => states.push([current, Date.now()]));
  const t0 = Date.now();
  await cluster.gateways[0].stop('SIGTERM');
  assert.equal((await raw.closed).code, 4200);
  await waitFor(() => p.connection.state === 'connected' && p.connection.socket_id !== firstId,
    { what: 'pusher-js reconnected', timeout: 5000 });
  assert.ok(Date.now() - t0 < 3000, `reconnected after ${Date.now() - t0} ms (no back-off)`);
  assert.ok(!states.some(([s]) => s === 'unavailable' || s === 'failed'), JSON.stringify(states));
  // pusher-js resubscribed on the new connection: publishes flow again
  await waitFor(async () => {
    await publishNative(cluster.routers[0].port, 'drained', 'E', { after: true });
    await new Promise((r) => setTimeout(r, 100));
    return got.length > 0;
  }, { what: 'a publish after the reconnection' });
  assert.deepEqual(got.at(-1).data, { after: true });
});

test('over the per-IP limit: 4100 (pusher-js backs off and comes back)', async () => {
  const g = await cluster.startGateway(2, ['--max-connections-per-ip', '1']);
  const first = await rawPusher(g.port);
  closers.push(() => first.terminate());
  await first.next((f) => f.event === 'pusher:connection_established');
  const second = await rawPusher(g.port, APP.key, { open: false });
  const { code, reason } = await second.closed;
  assert.equal(code, 4100);
  assert.match(reason, /too many connections/);
  assert.equal(second.frames.length, 0, 'no connection_established before the close');
});

test('a slow consumer is closed with 4100', async () => {
  const g = await cluster.startGateway(3, ['--send-queue-messages', '2']);
  const ws = await rawPusher(g.port);
  closers.push(() => ws.terminate());
  await ws.next((f) => f.event === 'pusher:connection_established');
  ws.sendJson({ event: 'pusher:subscribe', data: { channel: 'firehose' } });
  await ws.next((f) => f.event === 'pusher_internal:subscription_succeeded');
  ws._socket.pause(); // stop reading: the kernel buffers fill, then the gateway's queue
  const big = 'x'.repeat(60000);
  const slow = async () => /slow_consumer_disconnects_total [1-9]/
    .test(await (await fetch(`http://127.0.0.1:${g.port}/metrics`)).text());
  for (let i = 0; i < 400 && !(await slow()); i++) {
    await publishNative(cluster.routers[0].port, 'firehose', 'Big', big);
  }
  ws._socket.resume(); // the close frame waits for room in the socket
  const { code } = await ws.closed;
  assert.equal(code, 4100);
});

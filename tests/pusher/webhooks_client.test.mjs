// The webhook events gateways queue: client_event (a pusher-js client event, with its data as a
// string and the sender's socket_id) and cache_miss (a cache channel with nothing to replay),
// when --webhook-events asks for them; verified with the `pusher` SDK's webhook().isValid().
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import Pusher from 'pusher';
import { APP, startCluster, stopCluster, waitFor } from './cluster.mjs';
import { connected, pusherClient, subscribed } from './gw_helpers.mjs';

const sdk = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1' });
const events = [];
let server;
let cluster;
const clients = [];

before(async () => {
  server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const hook = sdk.webhook({ headers: req.headers, rawBody: Buffer.concat(chunks).toString() });
      if (hook.isValid()) events.push(...hook.getEvents());
      res.writeHead(hook.isValid() ? 200 : 401);
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cluster = await startCluster({
    gateways: 2,
    routers: 1,
    apps: [APP],
    routerArgs: ['--webhook', `${APP.id}=http://127.0.0.1:${server.address().port}/hook`,
      '--webhook-events', 'client_event,cache_miss'],
  });
  // webhooks:on is written within the router's first second
  await new Promise((r) => setTimeout(r, 1200));
});

after(async () => {
  for (const c of clients) c.disconnect();
  try {
    await stopCluster(cluster);
  } finally {
    server?.close();
  }
});

function client(gw) {
  const c = pusherClient(cluster.gateways[gw].port, {
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, cb) =>
        cb(null, sdk.authorizeChannel(socketId, channelName)),
    },
  });
  clients.push(c);
  return c;
}

test('client_event: name, channel, event, data as a string and the sender socket_id', async () => {
  const a = client(0);
  const b = client(1);
  const sid = await connected(a);
  await connected(b);
  const ca = await subscribed(a, 'private-wh-chat');
  await subscribed(b, 'private-wh-chat');
  assert.ok(ca.trigger('client-typing', { who: 'a' }));
  await waitFor(() => events.some((e) => e.name === 'client_event'), { what: 'client_event' });
  const e = events.find((x) => x.name === 'client_event');
  assert.deepEqual(e, {
    name: 'client_event', channel: 'private-wh-chat', event: 'client-typing',
    data: '{"who":"a"}', socket_id: sid,
  });
  // only the events asked for: no occupied/vacated here
  assert.ok(events.every((x) => x.name === 'client_event' || x.name === 'cache_miss'));
});

test('cache_miss: a cache channel subscribed with nothing to replay', async () => {
  const c = client(0);
  await connected(c);
  await subscribed(c, 'cache-wh-empty');
  await waitFor(() => events.some((e) => e.name === 'cache_miss'), { what: 'cache_miss' });
  assert.deepEqual(events.filter((e) => e.name === 'cache_miss'),
    [{ name: 'cache_miss', channel: 'cache-wh-empty' }]);
});

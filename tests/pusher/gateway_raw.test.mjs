// Raw Pusher frames pusher-js never sends: every one gets a precise answer, and the connection
// (and its subscriptions) survives everything but an oversized frame.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { APP, startCluster, stopCluster } from './cluster.mjs';
import { publishNative, rawPusher } from './gw_helpers.mjs';

let cluster;
let ws;
before(async () => {
  cluster = await startCluster({ gateways: 1, routers: 1, apps: [APP] });
  ws = await rawPusher(cluster.gateways[0].port);
  await ws.next((f) => f.event === 'pusher:connection_established');
  ws.sendJson({ event: 'pusher:subscribe', data: { channel: 'keepalive' } });
  await ws.next((f) => f.event === 'pusher_internal:subscription_succeeded');
});
after(async () => {
  ws?.terminate();
  await stopCluster(cluster);
});

const error = () => ws.next((f) => f.event === 'pusher:error', 'a pusher:error');

const cases = [
  ['malformed JSON', '{"event":"pusher:subscribe",', /JSON objects/],
  ['a JSON array', '["pusher:ping"]', /JSON objects/],
  ['no event', '{"data":{}}', /missing "event"/],
  ['an unknown event', '{"event":"pusher:teleport","data":{}}', /unknown event/],
  ['an event that is not a string', '{"event":42}', /missing "event"/],
  ['subscribe without data', '{"event":"pusher:subscribe"}', /must be an object/],
  ['subscribe with a bad channel name', '{"event":"pusher:subscribe","data":{"channel":"a b"}}', /invalid channel/],
  ['subscribe with a 165-byte name', JSON.stringify({ event: 'pusher:subscribe', data: { channel: 'x'.repeat(165) } }), /invalid channel/],
  ['duplicate keys', '{"event":"pusher:ping","event":"pusher:subscribe"}', /JSON objects/],
];

for (const [what, frame, message] of cases) {
  test(`${what}: pusher:error, the connection stays`, async () => {
    ws.sendJson(frame);
    const e = await error();
    assert.match(e.data.message, message);
    assert.equal(e.data.code, null);
  });
}

test('after all of that the subscription still delivers', async () => {
  await publishNative(cluster.routers[0].port, 'keepalive', 'Still', { ok: true });
  const m = await ws.next((f) => f.event === 'Still');
  assert.deepEqual(m.parsed, { ok: true });
  const metrics = await (await fetch(`http://127.0.0.1:${cluster.gateways[0].port}/metrics`)).text();
  assert.match(metrics, /belfry_gateway_connections\{type="pusher"\} 1/);
  assert.match(metrics, /belfry_gateway_client_errors_total [1-9]/);
});

test('a binary frame closes with 1003', async () => {
  const b = await rawPusher(cluster.gateways[0].port);
  await b.next((f) => f.event === 'pusher:connection_established');
  b.send(Buffer.from([1, 2, 3]));
  assert.equal((await b.closed).code, 1003);
});

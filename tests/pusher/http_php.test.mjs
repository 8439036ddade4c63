// pusher-http-php's request signing, reproduced by a small PHP script (php/pusher_sign.php):
// http_build_query() escapes what the SDK signed unescaped (',' -> %2C, ' ' -> '+'), json_encode()
// escapes '/'. Needs Debian's php-cli and php-curl
// (scripts/deps.sh installs them); skipped, saying so, where they are missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { APP, startCluster, stopCluster, waitFor } from './cluster.mjs';
import { nativeSub } from './http_helpers.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const php = spawnSync('php', ['-r', 'echo function_exists("curl_init") ? "ok" : "no";'], {
  encoding: 'utf8',
});
const skip = php.stdout !== 'ok' ? 'php-cli with php-curl is not installed (make deps)' : false;

let cluster;
before(async () => {
  if (!skip) cluster = await startCluster({ gateways: 1, routers: 1, apps: [APP] });
});
after(async () => {
  await stopCluster(cluster);
});

test('requests signed like pusher-http-php are accepted and answered', { skip }, async () => {
  const sub = await nativeSub(cluster.gateways[0].port, 'php-news');
  const r = spawnSync('php', [path.join(HERE, 'php/pusher_sign.php'),
    `http://127.0.0.1:${cluster.routers[0].port}`, APP.id, APP.key, APP.secret], {
    encoding: 'utf8', timeout: 20000,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = Object.fromEntries(r.stdout.trim().split('\n').map((l) => {
    const [name, status, ...body] = l.split(' ');
    return [name, { status: Number(status), body: JSON.parse(body.join(' ')) }];
  }));
  assert.deepEqual(out.trigger, { status: 200, body: {} });
  assert.deepEqual(out['trigger-info'],
    { status: 200, body: { channels: { 'php-news': { subscription_count: 1 } } } });
  assert.deepEqual(out.batch, { status: 200, body: {} });
  // signed correctly, refused by the API's rules (not 401)
  assert.equal(out.channels.status, 400);
  assert.equal(out.channels.body.error.code, 'not_presence');
  assert.equal(out.channel.status, 400);
  assert.equal(out.channel.body.error.code, 'not_presence');
  assert.deepEqual(out.list, { status: 200, body: { channels: { 'php-news': {} } } });
  assert.deepEqual(out['channel-ok'],
    { status: 200, body: { occupied: true, subscription_count: 1 } });
  await waitFor(() => sub.frames.length === 3, { what: 'three deliveries' });
  assert.deepEqual(sub.frames.map((f) => [f.event, f.data]), [
    ['php-event', { url: 'https://example.com/a b', n: 1 }],
    ['php-info', 'x'],
    ['php-batch', { b: 1 }],
  ]);
  sub.close();
});

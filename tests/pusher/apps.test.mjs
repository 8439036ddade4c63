// Apps are configuration every daemon shares: each accepts the same --app list, and refuses a
// malformed one at start with a message that names it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { APP, APP2, BIN_DIR, startCluster, stopCluster } from './cluster.mjs';

let cluster;
before(async () => {
  cluster = await startCluster({ gateways: 1, routers: 1, apps: [APP, APP2] });
});
after(async () => {
  await stopCluster(cluster);
});

test('gateway and router run with two apps', () => {
  cluster.gateways[0].assertRunning();
  cluster.routers[0].assertRunning();
});

for (const bin of ['belfry-gateway', 'belfry-router']) {
  test(`${bin} refuses a malformed --app and names it`, () => {
    const r = spawnSync(path.join(BIN_DIR, bin), ['--app', 'only-two:parts', '--api-key', 'x'], {
      encoding: 'utf8', timeout: 5000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--app: app 'only-two:parts': expected ID:KEY:SECRET/);
  });

  test(`${bin} refuses two apps with the same key`, () => {
    const r = spawnSync(path.join(BIN_DIR, bin), ['--api-key', 'x'], {
      encoding: 'utf8', timeout: 5000,
      env: { ...process.env, BELFRY_APPS: 'a:same:s1,b:same:s2' },
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /BELFRY_APPS \(environment\): app 'b': key 'same' belongs to another app/);
  });
}

// A real Belfry cluster for the client tests: a private redis-server, one router and one
// gateway from build/bin (or $BELFRY_BIN_DIR), each on a free loopback port. Readiness is
// polled (never slept on), and everything started here is killed by stop() — and, should a
// test crash past its `after`, by the process 'exit' hook.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '../../..');
export const BIN_DIR = process.env.BELFRY_BIN_DIR
  ? path.resolve(process.env.BELFRY_BIN_DIR)
  : path.join(REPO, 'build/bin');
export const API_KEY = 'client-js-test-key-0123456789abcdef';

const live = new Set(); /* child processes not yet reaped */
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** Polls cond() (sync or async) every `every` ms until truthy; throws after timeout ms. */
export async function waitFor(cond, { timeout = 5000, every = 25, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let lastErr;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeout} ms waiting for ${what}`, { cause: lastErr });
    await new Promise((r) => setTimeout(r, every));
  }
}

/** A free TCP port on 127.0.0.1 (the kernel picks; the tiny reuse race is retried by start). */
export async function freePort() {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address();
  srv.close();
  await once(srv, 'close');
  return port;
}

/** Which not-yet-universal gateway flags this build has (read from --help). */
export function gatewayFeatures() {
  const r = spawnSync(path.join(BIN_DIR, 'belfry-gateway'), ['--help'], { encoding: 'utf8' });
  const help = `${r.stdout}${r.stderr}`;
  return {
    anyToken: help.includes('--insecure-any-token'),
    jwtSecret: help.includes('--jwt-secret'),
  };
}

/** Sends one command to redis over RESP and returns the parsed reply (enough for tests). */
export function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    sock.setTimeout(2000, () => sock.destroy(new Error('redis timeout')));
    sock.on('error', reject);
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      const r = parseResp(buf, 0);
      if (r) {
        sock.end();
        r.value instanceof Error ? reject(r.value) : resolve(r.value);
      }
    });
    sock.write(
      `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`,
    );
  });
}

/* Parses one RESP value at i; returns {value, end} or null if incomplete. */
function parseResp(s, i) {
  const nl = s.indexOf('\r\n', i);
  if (nl < 0) return null;
  const head = s.slice(i + 1, nl);
  switch (s[i]) {
    case '+':
      return { value: head, end: nl + 2 };
    case '-':
      return { value: new Error(head), end: nl + 2 };
    case ':':
      return { value: Number(head), end: nl + 2 };
    case '$': {
      const n = Number(head);
      if (n < 0) return { value: null, end: nl + 2 };
      if (s.length < nl + 2 + n + 2) return null;
      return { value: s.slice(nl + 2, nl + 2 + n), end: nl + 2 + n + 2 };
    }
    case '*': {
      const n = Number(head);
      const out = [];
      let at = nl + 2;
      for (let k = 0; k < n; k++) {
        const r = parseResp(s, at);
        if (!r) return null;
        out.push(r.value);
        at = r.end;
      }
      return { value: out, end: at };
    }
    default:
      throw new Error(`unexpected RESP byte ${JSON.stringify(s[i])}`);
  }
}

async function httpOk(url) {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return r.status === 200;
  } catch {
    return false;
  }
}

/** One daemon: spawned, its output kept (last 64 KiB) for failure messages, killed on stop. */
export class Proc {
  constructor(name, cmd, args) {
    this.name = name;
    this.log = '';
    this.exited = null;
    this.child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.child);
    const keep = (d) => {
      this.log = (this.log + d.toString('utf8')).slice(-65536);
    };
    this.child.stdout.on('data', keep);
    this.child.stderr.on('data', keep);
    this.exitPromise = once(this.child, 'exit').then(([code, sig]) => {
      live.delete(this.child);
      this.exited = { code, sig };
    });
  }

  async stop(signal = 'SIGKILL', timeout = 15000) {
    if (this.exited) return this.exited;
    this.child.kill(signal);
    let t;
    const ok = await Promise.race([
      this.exitPromise.then(() => true),
      new Promise((r) => (t = setTimeout(() => r(false), timeout))),
    ]);
    clearTimeout(t);
    if (!ok) {
      this.child.kill('SIGKILL');
      await this.exitPromise;
    }
    return this.exited;
  }

  /** Throws (with the daemon's log) if it has exited. */
  assertRunning() {
    if (this.exited)
      throw new Error(`${this.name} exited (${JSON.stringify(this.exited)}):\n${this.log}`);
  }
}

/**
 * Starts redis + router + gateway. gatewayArgs / routerArgs are extra flags (e.g.
 * ['--insecure-any-token'], ['--history-size', '5']). Returns a Cluster; always
 * `await cluster.stop()` in `after`.
 */
export async function startCluster({ gatewayArgs = [], routerArgs = [] } = {}) {
  const c = new Cluster(gatewayArgs, routerArgs);
  try {
    await c.start();
  } catch (err) {
    await c.stop();
    throw err;
  }
  return c;
}

export class Cluster {
  constructor(gatewayArgs, routerArgs = []) {
    this.gatewayArgs = gatewayArgs;
    this.routerArgs = routerArgs;
    this.redis = this.router = this.gateway = null;
  }

  async start() {
    this.redisPort = await freePort();
    this.redis = new Proc('redis-server', 'redis-server', [
      '--port', String(this.redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    ]);
    await waitFor(
      async () => {
        this.redis.assertRunning();
        return (await redisCommand(this.redisPort, 'PING')) === 'PONG';
      },
      { what: 'redis-server to answer PING' },
    );
    this.redisUrl = `redis://127.0.0.1:${this.redisPort}`;

    this.routerPort = await freePort();
    this.router = new Proc('belfry-router', path.join(BIN_DIR, 'belfry-router'), [
      '--listen', `127.0.0.1:${this.routerPort}`, '--redis', this.redisUrl,
      '--api-key', API_KEY, '--heartbeat-ms', '200', '--heartbeat-ttl-ms', '1000',
      ...this.routerArgs,
    ]);
    await waitFor(
      () => {
        this.router.assertRunning();
        return httpOk(`http://127.0.0.1:${this.routerPort}/readyz`);
      },
      { what: 'belfry-router /readyz' },
    );

    this.gatewayPort = await freePort();
    await this.startGateway();
  }

  /** (Re)starts the gateway on the same port, waiting for /readyz. */
  async startGateway() {
    this.gateway = new Proc('belfry-gateway', path.join(BIN_DIR, 'belfry-gateway'), [
      '--listen', `127.0.0.1:${this.gatewayPort}`, '--redis', this.redisUrl,
      '--heartbeat-ms', '200', '--heartbeat-ttl-ms', '1000', '--drain-timeout', '2',
      // back-pressure off: scheduling hiccups would turn publishes into 503 overloaded at random
      '--backlog-limit-ms', '0',
      ...this.gatewayArgs,
    ]);
    await waitFor(
      () => {
        this.gateway.assertRunning();
        return httpOk(`http://127.0.0.1:${this.gatewayPort}/readyz`);
      },
      { what: 'belfry-gateway /readyz' },
    );
  }

  /** Starts the gateway again if a test stopped it (for afterEach). */
  async ensureGateway() {
    if (this.gateway?.exited) await this.startGateway();
  }

  /** Stops the gateway: SIGKILL (a crash: clients see 1006) or SIGTERM (drain: 1012). */
  async stopGateway(signal = 'SIGKILL') {
    return this.gateway.stop(signal);
  }

  /** WebSocket URL of a channel on the gateway; query is an object of extra parameters. */
  wsUrl(channel, query = {}) {
    const q = new URLSearchParams(query).toString();
    return `ws://127.0.0.1:${this.gatewayPort}/ws/${channel}${q ? `?${q}` : ''}`;
  }

  /** POST /broadcast/{channel} through the router; resolves when it answered 204. */
  async publish(channel, event, data) {
    const r = await fetch(`http://127.0.0.1:${this.routerPort}/broadcast/${channel}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ event, data }),
      signal: AbortSignal.timeout(5000),
    });
    if (r.status !== 204) throw new Error(`publish to ${channel}: HTTP ${r.status} ${await r.text()}`);
  }

  /**
   * Waits until `count` gateways have subscribed to the channel's fan-out in Redis. A client's
   * socket opens before its gateway's SUBSCRIBE is acknowledged, and a publish in between is
   * (correctly) not delivered, so tests wait for this before publishing.
   */
  async waitSubscribed(channel, count = 1) {
    await waitFor(
      async () => {
        const [, n] = await redisCommand(this.redisPort, 'PUBSUB', 'NUMSUB', `belfry:fan:{${channel}}`);
        return n === count;
      },
      { what: `${count} gateway subscription(s) to ${channel}` },
    );
  }

  /** The daemons' recent output, for failure messages. */
  logs() {
    return [this.redis, this.router, this.gateway]
      .filter(Boolean)
      .map((p) => `--- ${p.name} ---\n${p.log}`)
      .join('\n');
  }

  async stop() {
    await Promise.all([this.gateway, this.router, this.redis].filter(Boolean).map((p) => p.stop()));
  }
}

/**
 * Serves the files the gateway will serve (GET / → client/demo/index.html, GET /belfry.js →
 * client/js/belfry.js) from this working tree, on a free port. Returns {url, close()}.
 */
export async function serveClientFiles() {
  const { createServer } = await import('node:http');
  const { readFile } = await import('node:fs/promises');
  const routes = {
    '/': ['client/demo/index.html', 'text/html; charset=utf-8'],
    '/belfry.js': ['client/js/belfry.js', 'text/javascript; charset=utf-8'],
  };
  const srv = createServer(async (req, res) => {
    const route = routes[new URL(req.url, 'http://x').pathname];
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    const body = await readFile(path.join(REPO, route[0]));
    res.writeHead(200, { 'content-type': route[1], 'cache-control': 'no-store' }).end(body);
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return {
    url: `http://127.0.0.1:${srv.address().port}`,
    close: () => new Promise((r) => srv.close(r)),
  };
}

/** True if the gateway itself serves the page and the module (once the lead embeds them). */
export async function gatewayServesClient(gatewayPort) {
  const base = `http://127.0.0.1:${gatewayPort}`;
  return (await httpOk(`${base}/`)) && (await httpOk(`${base}/belfry.js`));
}

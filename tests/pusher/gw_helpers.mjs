// Helpers for the gateway-side Pusher tests (gateway_*.test.mjs, echo_*.test.mjs): pusher-js
// clients pointed at a gateway, raw `ws` sockets speaking the protocol by hand, and the native
// ways to publish (router HTTP API, Redis ingress).
import net from 'node:net';
import Pusher from 'pusher-js';
import WebSocket from 'ws';
import { API_KEY, APP, redisCommand, waitFor } from './cluster.mjs';

export { Pusher, WebSocket };

/** A pusher-js client (its Node build) on gateway port `port`; `opts` are merged in. */
export function pusherClient(port, { app = APP, ...opts } = {}) {
  return new Pusher(app.key, {
    cluster: '',
    wsHost: '127.0.0.1',
    wsPort: port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    ...opts,
  });
}

/** Resolves once `client` is connected; returns its socket_id. */
export async function connected(client) {
  if (client.connection.state !== 'connected') {
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`not connected: ${client.connection.state}`)), 5000);
      client.connection.bind('connected', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  return client.connection.socket_id;
}

/** Subscribes and resolves with the channel once pusher:subscription_succeeded arrives. */
export function subscribed(client, name) {
  const ch = client.subscribe(name);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no subscription_succeeded on ${name}`)), 5000);
    ch.bind('pusher:subscription_succeeded', () => {
      clearTimeout(t);
      resolve(ch);
    });
    ch.bind('pusher:subscription_error', (e) => {
      clearTimeout(t);
      reject(new Error(`subscription_error on ${name}: ${JSON.stringify(e)}`));
    });
  });
}

/** Resolves with the pusher:subscription_error data for `name` (rejects on success or after 5 s). */
export function subscriptionError(client, name) {
  const ch = client.subscribe(name);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no subscription_error on ${name}`)), 5000);
    ch.bind('pusher:subscription_error', (e) => {
      clearTimeout(t);
      resolve(e);
    });
    ch.bind('pusher:subscription_succeeded', () => {
      clearTimeout(t);
      reject(new Error(`${name}: subscription succeeded`));
    });
  });
}

/** Collects every event `event` bound on channel object `ch` into an array. */
export function collect(ch, event) {
  const got = [];
  ch.bind(event, (data, meta) => got.push({ data, meta }));
  return got;
}

/** POST /broadcast/{channel} on a router (the native HTTP API, default app). */
export async function publishNative(routerPort, channel, event, data) {
  const r = await fetch(`http://127.0.0.1:${routerPort}/broadcast/${channel}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ event, data }),
  });
  if (r.status < 200 || r.status > 299) throw new Error(`publish ${channel}: ${r.status} ${await r.text()}`);
}

/** PUBLISH belfry:publish:{channel} (Redis ingress, default app). */
export function publishRedis(redisPort, channel, event, data) {
  return redisCommand(redisPort, 'PUBLISH', `belfry:publish:${channel}`, JSON.stringify({ event, data }));
}

/**
 * A raw WebSocket on /app/{key}: `frames` collects every parsed server frame, `next(pred)` waits
 * for the first (not yet taken) frame matching pred, `closed` resolves with {code, reason}.
 */
export async function rawPusher(port, key = APP.key, { open = true } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${key}?protocol=7&client=js&version=8.6.0`);
  const frames = [];
  const taken = new Set();
  ws.frames = frames;
  ws.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString());
    if (typeof f.data === 'string') {
      try { f.parsed = JSON.parse(f.data); } catch { f.parsed = f.data; }
    }
    frames.push(f);
  });
  ws.next = async (pred, what = 'a frame') => {
    let found;
    await waitFor(() => {
      found = frames.find((f, i) => !taken.has(i) && pred(f) && (taken.add(i), true));
      return found !== undefined;
    }, { what, timeout: 5000 });
    return found;
  };
  ws.sendJson = (o) => ws.send(typeof o === 'string' ? o : JSON.stringify(o));
  if (open) {
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
  }
  return ws;
}

/**
 * A Laravel Echo (broadcaster 'pusher') on gateway `port`, authorising channels with the server
 * SDK `sdk` the way Laravel's /broadcasting/auth does: presence channels as `user`
 * ({user_id, user_info}).
 */
export async function echoClient(port, sdk, user = null, extra = {}) {
  const { default: Echo } = await import('laravel-echo');
  return new Echo({
    broadcaster: 'pusher',
    Pusher,
    key: sdk.config.token.key,
    cluster: '',
    wsHost: '127.0.0.1',
    wsPort: port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, cb) => {
        try {
          cb(null, channelName.startsWith('presence-')
            ? sdk.authorizeChannel(socketId, channelName, user)
            : sdk.authorizeChannel(socketId, channelName));
        } catch (e) {
          cb(e, null);
        }
      },
    },
    ...extra,
  });
}

/**
 * msgpack of [1, kind, channel, seq, frame, conn, user, data_raw, exclude_socket]:
 * a fan-out envelope (common/wire.h) by hand; the last two only when given.
 */
export function fanoutEnvelope(channel, seq, frame, kind = 1, {
  excludeUser = '', dataRaw = null, excludeSocket = null,
} = {}) {
  const str = (s) => {
    const b = Buffer.from(s, 'utf8');
    if (b.length < 32) return Buffer.concat([Buffer.from([0xa0 | b.length]), b]);
    if (b.length < 256) return Buffer.concat([Buffer.from([0xd9, b.length]), b]);
    return Buffer.concat([Buffer.from([0xda, b.length >> 8, b.length & 0xff]), b]);
  };
  const nine = dataRaw !== null || excludeSocket !== null;
  return Buffer.concat([Buffer.from([nine ? 0x99 : 0x97, 0x01, kind]), str(channel),
    Buffer.from([0xcc, seq]), str(frame), str(''), str(excludeUser),
    ...(nine ? [str(dataRaw ?? ''), str(excludeSocket ?? '')] : [])]);
}

/** PUBLISHes a raw fan-out envelope for `channel` (how a server-side trigger reaches gateways). */
export function publishFanout(redisPort, channel, event, data, seq = 1, opts = {}) {
  const frame = opts.frame ?? JSON.stringify({ event, data, seq });
  const args = [Buffer.from('PUBLISH'), Buffer.from(`belfry:fan:{${channel}}`),
    fanoutEnvelope(channel, seq, frame, opts.kind ?? 1, opts)];
  const parts = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) parts.push(Buffer.from(`$${a.length}\r\n`), a, Buffer.from('\r\n'));
  return new Promise((resolve, reject) => {
    const sock = net.connect(redisPort, '127.0.0.1');
    sock.setTimeout(2000, () => sock.destroy(new Error('redis timeout')));
    sock.on('error', reject);
    sock.on('data', (d) => {
      sock.end();
      const m = /^:(\d+)/.exec(d.toString());
      m ? resolve(Number(m[1])) : reject(new Error(d.toString()));
    });
    sock.write(Buffer.concat(parts));
  });
}

/** `promise`, or a rejection naming `what` after `ms`. */
export function within(promise, what, ms = 5000) {
  let t;
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms); }),
  ]);
}

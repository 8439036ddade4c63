// Helpers for the Pusher HTTP API tests: a request signer written from the protocol (independent
// of the SDK, for what the SDK refuses to send), native WebSocket subscribers, and a Redis
// subscriber that decodes fan-out envelopes (msgpack, see common/wire.h).
import crypto from 'node:crypto';
import net from 'node:net';
import Pusher from 'pusher';
import WebSocket from 'ws';
import { redisCommand, waitFor } from './cluster.mjs';

/** The `pusher` server SDK for app, talking to the router on port. */
export function serverSdk(port, app) {
  return new Pusher({
    appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(port),
    useTLS: false,
  });
}

/** Waits until the gateway on port reports written fan-outs (a router's --fanout-window seen in
 * its heartbeat). */
export async function fanoutReporting(port) {
  await waitFor(async () => {
    const m = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return /belfry_gateway_fanout_reporting 1\n/.test(m);
  }, { what: 'the gateway reporting written fan-outs', timeout: 10000 });
}

/** The seqs of channel that gateways have reported written (fdone:{channel}, fandone.lua). */
export async function writtenSeqs(redisPort, channel) {
  const v = await redisCommand(redisPort, 'HVALS', `belfry:fdone:{${channel}}`);
  return (Array.isArray(v) ? v : []).map((x) => Number(String(x).split(' ')[0]));
}

/** Signs and sends a Pusher API request; returns { status, body } (body parsed when JSON). */
export async function signedFetch(port, app, method, path, {
  body, params = {}, timestamp = Math.floor(Date.now() / 1000), signBody, secret = app.secret,
  key = app.key,
} = {}) {
  const text = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
  const q = { auth_key: key, auth_timestamp: String(timestamp), auth_version: '1.0', ...params };
  const signed = signBody ?? text;
  if (signed) q.body_md5 = crypto.createHash('md5').update(signed).digest('hex');
  const qs = Object.keys(q).sort().map((k) => `${k}=${q[k]}`).join('&');
  const sig = crypto.createHmac('sha256', secret).update(`${method}\n${path}\n${qs}`).digest('hex');
  const r = await fetch(`http://127.0.0.1:${port}${path}?${qs}&auth_signature=${sig}`, {
    method, body: text, headers: text ? { 'content-type': 'application/json' } : {},
  });
  const raw = await r.text();
  let parsed = raw;
  try {
    parsed = JSON.parse(raw);
  } catch { /* keep text */ }
  return { status: r.status, body: parsed, headers: r.headers };
}

/** A native subscriber on /ws/{channel}?recover=1; resolves once belfry:subscribed arrived. */
export async function nativeSub(port, channel) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/${encodeURIComponent(channel)}?recover=1`);
  const frames = [];
  let subscribed = false;
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString('utf8'));
    if (f.event === 'belfry:subscribed') subscribed = true;
    else frames.push(f);
  });
  await waitFor(() => subscribed, { what: `native subscription to ${channel}`, timeout: 10000 });
  return { ws, frames, close: () => ws.close() };
}

/* A minimal msgpack decoder: what cmsgpack produces for the fan-out envelope. */
function unpack(b, i = 0) {
  const t = b[i];
  const str = (n, at) => [b.subarray(at, at + n).toString('utf8'), at + n];
  const arr = (n, at) => {
    const out = [];
    for (let k = 0; k < n; k++) {
      const [v, nx] = unpack(b, at);
      out.push(v);
      at = nx;
    }
    return [out, at];
  };
  if (t <= 0x7f) return [t, i + 1];
  if (t >= 0x90 && t <= 0x9f) return arr(t & 0x0f, i + 1);
  if (t >= 0xa0 && t <= 0xbf) return str(t & 0x1f, i + 1);
  switch (t) {
    case 0xcc: return [b[i + 1], i + 2];
    case 0xcd: return [b.readUInt16BE(i + 1), i + 3];
    case 0xce: return [b.readUInt32BE(i + 1), i + 5];
    case 0xcf: return [Number(b.readBigUInt64BE(i + 1)), i + 9];
    case 0xd9: return str(b[i + 1], i + 2);
    case 0xda: return str(b.readUInt16BE(i + 1), i + 3);
    case 0xdb: return str(b.readUInt32BE(i + 1), i + 5);
    case 0xdc: return arr(b.readUInt16BE(i + 1), i + 3);
    default: throw new Error(`msgpack type 0x${t.toString(16)} not handled`);
  }
}

/** Subscribes to Redis subjects; collects decoded fan-out envelopes as {subject, env}. */
export async function fanoutSpy(redisPort, ...subjects) {
  const sock = net.connect(redisPort, '127.0.0.1');
  const got = [];
  let buf = Buffer.alloc(0);
  let acks = 0;
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const r = parseRespBuf(buf, 0);
      if (!r) break;
      buf = buf.subarray(r.end);
      const [kind, subject, payload] = r.value;
      if (kind.toString() === 'subscribe') acks++;
      else if (kind.toString() === 'message') got.push({ subject: subject.toString(), env: unpack(payload)[0] });
    }
  });
  const args = ['SUBSCRIBE', ...subjects];
  sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  await waitFor(() => acks === subjects.length, { what: 'redis SUBSCRIBE' });
  return { got, close: () => sock.destroy() };
}

function parseRespBuf(b, i) {
  const nl = b.indexOf('\r\n', i);
  if (nl < 0) return null;
  const head = b.subarray(i + 1, nl).toString();
  const c = String.fromCharCode(b[i]);
  if (c === ':' || c === '+') return { value: Buffer.from(head), end: nl + 2 };
  if (c === '$') {
    const n = Number(head);
    if (b.length < nl + 2 + n + 2) return null;
    return { value: b.subarray(nl + 2, nl + 2 + n), end: nl + 4 + n };
  }
  if (c === '*') {
    const out = [];
    let at = nl + 2;
    for (let k = 0; k < Number(head); k++) {
      const r = parseRespBuf(b, at);
      if (!r) return null;
      out.push(r.value);
      at = r.end;
    }
    return { value: out, end: at };
  }
  throw new Error(`unexpected RESP ${c}`);
}

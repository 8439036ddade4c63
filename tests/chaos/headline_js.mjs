// The JS clients of tests/chaos/headline_recovery.c: client/js/belfry.js on Node with the `ws`
// package from client/js/test/node_modules. Started by the C test as a child process:
//
//   node tests/chaos/headline_js.mjs '{"ports":[P0,P1,P2],"clients":[{"channel":C,"gw":G}...]}'
//
// stdout, one line each (the C test reads them):
//   ready                      every client has its position (belfry:subscribed)
//   s SEQ:CONNECTS,...         every 10 ms: each client's last seq and number of opens
//   result {"ok":B,...}        after `done {channel: count, ...}` arrives on stdin: whether each
//                              client received exactly seq 1..count of its channel, in order
// A client whose connection ends moves on to the next gateway (its URL factory), as the C ones
// do. When stdin closes (the test ended or died) the script exits.
import { createRequire } from 'node:module';

import { createBroadcastClient } from '../../client/js/belfry.js';

const require = createRequire(new URL('../../client/js/test/package.json', import.meta.url));
const WebSocket = require('ws');

const config = JSON.parse(process.argv[2]);
const say = (line) => process.stdout.write(`${line}\n`);

const clients = config.clients.map(({ channel, gw }) => {
  const c = { channel, gw, last: 0, connects: 0, gaps: 0, failures: 0, problems: [] };
  const problem = (what) => {
    if (c.problems.length < 3) c.problems.push(`${channel}: ${what}`);
  };
  c.client = createBroadcastClient(() => `ws://127.0.0.1:${config.ports[c.gw]}/ws/${channel}`, {
    WebSocket,
    initialDelay: 100,
    maxDelay: 1000,
    onConnect: () => c.connects++,
    onDisconnect: () => {
      c.gw = (c.gw + 1) % config.ports.length;
    },
    onGap: (g) => {
      c.gaps++;
      problem(`gap ${JSON.stringify(g)}`);
    },
    onRecoveryFailed: (f) => {
      c.failures++;
      problem(`recovery failed ${JSON.stringify(f)}`);
    },
    onError: (err) => problem(`error ${err}`),
  });
  c.client.subscribe('*', (event, data, meta) => {
    if (event !== 'N' || meta.seq !== c.last + 1 || data?.i !== meta.seq)
      problem(`${event} seq ${meta.seq} i ${data?.i} after ${c.last}`);
    if (Number.isSafeInteger(meta.seq)) c.last = meta.seq;
  });
  return c;
});

const readyTimer = setInterval(() => {
  if (clients.every((c) => c.client.epoch() !== undefined)) {
    clearInterval(readyTimer);
    say('ready');
  }
}, 10);
const status = () => `s ${clients.map((c) => `${c.last}:${c.connects}`).join(',')}`;
const statusTimer = setInterval(() => say(status()), 10);

function finish(counts) {
  clearInterval(statusTimer);
  const problems = [];
  for (const c of clients) {
    const want = counts[c.channel];
    if (c.last !== want) problems.push(`${c.channel}: ended at seq ${c.last} of ${want}`);
    problems.push(...c.problems);
  }
  const result = {
    ok: problems.length === 0,
    clients: clients.length,
    reconnected: clients.filter((c) => c.connects > 1).length,
    gaps: clients.reduce((n, c) => n + c.gaps, 0),
    failures: clients.reduce((n, c) => n + c.failures, 0),
    problems: problems.slice(0, 10),
  };
  for (const c of clients) c.client.close();
  say(`result ${JSON.stringify(result)}`);
  setTimeout(() => process.exit(0), 50); // let the close frames go out
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  input += d;
  for (let nl; (nl = input.indexOf('\n')) >= 0; ) {
    const line = input.slice(0, nl);
    input = input.slice(nl + 1);
    if (line.startsWith('done ')) finish(JSON.parse(line.slice(5)));
  }
});
process.stdin.on('end', () => process.exit(1));

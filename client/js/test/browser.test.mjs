// The demo page in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
// against a real cluster: presence between two browser contexts, a message published over
// HTTP, a whisper, and the page reconnecting by itself after the gateway is killed.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { gatewayFeatures, gatewayServesClient, serveClientFiles, startCluster } from './cluster.mjs';

const CHROMIUM = process.env.BELFRY_CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const features = gatewayFeatures();
const NO_BROWSER = !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
if (NO_BROWSER) console.log(`# SKIPPING browser tests: ${NO_BROWSER}`);
const PRESENCE_SKIP = NO_BROWSER || (!features.anyToken && 'waiting for the gateway flag --insecure-any-token');

const T = 10000; /* ms for anything the page must show by itself */

describe('demo page in Chromium', { skip: NO_BROWSER, timeout: 90000 }, () => {
  let cluster, files, browser, pageBase;
  const pageErrors = [];

  before(async () => {
    const { chromium } = await import('playwright-core');
    cluster = await startCluster({ gatewayArgs: features.anyToken ? ['--insecure-any-token'] : [] });
    // Once the gateway embeds the page, test it as served; until then from this tree.
    if (await gatewayServesClient(cluster.gatewayPort)) {
      pageBase = `http://127.0.0.1:${cluster.gatewayPort}/?`;
    } else {
      files = await serveClientFiles();
      pageBase = `${files.url}/?server=ws://127.0.0.1:${cluster.gatewayPort}&`;
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // Chromium's sandbox refuses to run as root (CI runs as root).
      args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
    });
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await files?.close();
    await cluster?.stop();
  });

  /** A fresh browser context (its own storage, like another person) with the demo open. */
  async function openDemo(query = '') {
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 760 } });
    const page = await ctx.newPage();
    page.on('pageerror', (err) => pageErrors.push(err));
    await page.goto(`${pageBase}router=127.0.0.1:${cluster.routerPort}&${query}`);
    return page;
  }

  async function join(page, { name = '', channel }) {
    await page.fill('#name', name);
    await page.fill('#channel', channel);
    await page.click('#join');
    await page.waitForSelector('#status[data-state="open"]', { timeout: T });
  }

  const feedMessage = (page, text) =>
    page.locator('#feed li.msg', { hasText: text }).waitFor({ timeout: T });

  /** Kills the gateway, checks that the page says it is reconnecting, restarts it. */
  async function bounceGateway(pages) {
    await cluster.stopGateway('SIGKILL');
    for (const p of pages) {
      await p.waitForSelector('#status[data-state="reconnecting"]', { timeout: T });
      assert.match(await p.textContent('#status-text'), /^Reconnecting( in \d+s|…)$/);
    }
    await cluster.startGateway();
    for (const p of pages) await p.waitForSelector('#status[data-state="open"]', { timeout: T });
  }

  test('a public channel: published messages appear with their seq; reconnects by itself', async () => {
    const channel = 'demo-public';
    const page = await openDemo();
    await join(page, { channel });
    await cluster.waitSubscribed(channel);
    await cluster.publish(channel, 'Announcement', { text: 'hello from curl' });
    await feedMessage(page, 'hello from curl');
    assert.equal(await page.textContent('#feed li.msg .seq'), '#1');

    await bounceGateway([page]);
    await cluster.waitSubscribed(channel);
    await cluster.publish(channel, 'Announcement', { text: 'after the restart' });
    await feedMessage(page, 'after the restart');
    assert.equal(await page.locator('#feed li.msg .seq').last().textContent(), '#2');
    await page.locator('#feed li.sys', { hasText: 'Reconnected' }).waitFor({ timeout: T });
    await page.context().close();
  });

  test('presence: two people see each other, messages and whispers; both reconnect', { skip: PRESENCE_SKIP }, async () => {
    const channel = 'presence-demo';
    const alice = await openDemo();
    const bob = await openDemo();
    await join(alice, { name: 'alice', channel });
    await join(bob, { name: 'bob', channel });

    for (const [page, other] of [[alice, 'bob'], [bob, 'alice']]) {
      await page.locator(`#members li[data-id="${other}"]`).waitFor({ timeout: T });
      await page.locator('#members li.me').waitFor({ timeout: T });
      assert.equal(await page.textContent('#member-count'), '2');
    }

    await cluster.waitSubscribed(channel);
    await cluster.publish(channel, 'Announcement', { text: 'deploy finished' });
    await feedMessage(alice, 'deploy finished');
    await feedMessage(bob, 'deploy finished');

    await alice.fill('#whisper-input', 'hi bob');
    await alice.click('#whisper-send');
    await bob.locator('#feed li.bubble[data-from="alice"]', { hasText: 'hi bob' }).waitFor({ timeout: T });
    await alice.locator('#feed li.bubble.mine', { hasText: 'hi bob' }).waitFor({ timeout: T });
    await alice.screenshot({ path: path.join(ARTIFACTS, 'demo-alice.png') });

    await bounceGateway([alice, bob]);
    for (const [page, other] of [[alice, 'bob'], [bob, 'alice']])
      await page.locator(`#members li[data-id="${other}"]`).waitFor({ timeout: T });
    await bob.fill('#whisper-input', 'still here');
    await bob.click('#whisper-send');
    await alice.locator('#feed li.bubble[data-from="bob"]', { hasText: 'still here' }).waitFor({ timeout: T });

    await bob.locator('#feed li.sys', { hasText: 'Reconnected' }).waitFor({ timeout: T });
    await bob.screenshot({ path: path.join(ARTIFACTS, 'demo-bob-after-restart.png') });

    // bob leaves: alice's list shrinks
    await bob.click('#leave');
    await alice.locator('#members li[data-id="bob"]').waitFor({ state: 'detached', timeout: T });
    await alice.context().close();
    await bob.context().close();
  });

  test('the pages threw no errors', () => {
    assert.deepEqual(pageErrors.map(String), []);
  });
});

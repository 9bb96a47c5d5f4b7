// A lesson embedded in a training portal, in a real Chromium, against the bundled agent with the
// built web app and the example portal (examples/portal/server.mjs) as a process of its own, on
// another site (the portal on http://localhost, the agent on http://127.0.0.1): the iframe is
// truly third-party. The portal's page mounts the launch with the agent's /embed/v1.js; the
// learner does the UTS lesson's tasks in the frame's panes; the portal's page hears ready, each
// task, the lesson complete, and the close by the portal's DELETE; a new launch shows the tasks
// done earlier. A page of an origin the key does not list cannot frame the lesson; the embed view
// without an embedded session says where to open it; a launch link works once, not late; Chromium
// keeps the Secure embed cookie from plain-HTTP loopback (partitioned under the portal's site)
// but not from any other plain-HTTP host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { EMBED_EVENT } from '@nslab/shared';
import { freePort, serve, type Served } from '../helpers/server.ts';
import { CHROMIUM, launch, browserTestsSkip } from '../helpers/browser.ts';
import { waitFor } from '../helpers/wait.ts';
import { frameOf, runIn, screenOf, waitPromptsIn } from '../helpers/frame.ts';
import { runCli } from '../../apps/agent/src/cli/run.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';
import { makeIO } from '../cli/streams.ts';

const skip = browserTestsSkip('the embed tests');
const PANES = ['host', 'container'];
const WIDE = { width: 1440, height: 1000 };
/** A host name that is not loopback for the browser, mapped to 127.0.0.1 by its resolver. */
const PLAIN_HOST = 'nslab-embed.test';

type Event = { type: string; [k: string]: unknown };

const text = async (l: Locator) => (await l.textContent()) ?? '';

let root: string;
let agent: Served;
let portal: ChildProcess;
let portalOutput = '';
let browser: Browser;
let key: string;
/** The portal as the key lists it, and the same server as an origin the key does not list. */
let portalUrl: string;
let strangerUrl: string;

before(async () => {
  if (skip) return;
  root = mkdtempSync(join(tmpdir(), 'nslab-e2e-embed-'));
  agent = await serve('nslabe2ee', {
    NSLAB_DATA_DIR: join(root, 'data'),
    NSLAB_ID_BASE: '340000000',
    NSLAB_MAX_LABS: '16',
    NSLAB_WARM_PER_LESSON: '0',
    NSLAB_ALLOWED_HOSTS: PLAIN_HOST,
  });
  const port = await freePort();
  portalUrl = `http://localhost:${port}`;
  strangerUrl = `http://127.0.0.1:${port}`;
  // The operator makes the portal's key with the CLI; its last line is the key.
  const io = makeIO({ env: { NSLAB_URL: agent.url, NSLAB_TOKEN: agent.token } });
  assert.equal(await runCli(['keys', 'create', '--name', 'academy', '--origins', portalUrl], { ...io, tokenFile: '/nonexistent' }), 0, io.stderr.text());
  key = io.stdout.text().trim().split('\n').pop()!;
  assert.match(key, /^nsk_/);
  portal = spawn(process.execPath, [join(REPO_ROOT, 'examples/portal/server.mjs')], {
    env: { ...process.env, NSLAB_URL: agent.url, NSLAB_API_KEY: key, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  portal.stdout!.on('data', (d) => (portalOutput += d));
  portal.stderr!.on('data', (d) => (portalOutput += d));
  await waitFor(
    'the portal to answer',
    async () => {
      if (portal.exitCode !== null) throw new Error(`the portal exited (${portal.exitCode}):\n${portalOutput}`);
      return (await fetch(`${strangerUrl}/`).catch(() => null))?.ok;
    },
    15_000,
  );
  browser = await launch();
});

after(async () => {
  if (skip) return;
  await browser?.close();
  if (portal && portal.exitCode === null) {
    const exited = new Promise((r) => portal.once('exit', r));
    portal.kill('SIGTERM');
    await exited;
  }
  await agent?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** Ask the agent for a launch link, as a portal's server does. */
async function launchLink(body: Record<string, unknown>): Promise<{ url: string; expiresAt: string }> {
  const res = await fetch(`${agent.url}/api/v1/launches`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()) as { url: string; expiresAt: string };
}

/** The events the portal's page listed (each `[data-event]`, its JSON as text). */
function portalEvents(page: Page): Promise<Event[]> {
  return page.$$eval('#events [data-event]', (els) => els.map((e) => JSON.parse(e.textContent ?? '{}') as { type: string }));
}

function waitEvent(page: Page, what: string, pred: (e: Event) => boolean, timeoutMs = 30_000): Promise<Event> {
  return waitFor(`${what} on the portal's page`, async () => (await portalEvents(page)).find(pred), timeoutMs).catch(async (err) => {
    throw new Error(`${(err as Error).message}; it got ${JSON.stringify(await portalEvents(page))}`);
  });
}

/** A fresh browser context (its own cookies) with the portal's page, a lab launched in it for `user`. */
async function portalWithLab(url: string, user: string): Promise<{ ctx: BrowserContext; page: Page; logs: string[] }> {
  const ctx = await browser.newContext({ viewport: WIDE, locale: 'en-US' });
  const page = await ctx.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (err) => logs.push(`page error: ${err.message}`));
  const res = await page.goto(url);
  assert.equal(res?.status(), 200);
  await page.waitForFunction(() => typeof (window as { NSLab?: { version: number } }).NSLab?.version === 'number');
  await page.fill('#launch input[name="user"]', user);
  await page.selectOption('#launch select[name="lesson"]', 'uts');
  await page.click('#launch button[type="submit"]');
  return { ctx, page, logs };
}

test('a lesson in the portal: the lab opens in the frame, the tasks turn done, the portal hears each event and the close', { skip }, async () => {
  const { ctx, page } = await portalWithLab(`${portalUrl}/`, 'ann');
  try {
    const frame = await frameOf(page, '#lab iframe');
    await waitFor('the embed view in the frame', () => /\/en\/embed\/uts$/.test(frame.url()), 15_000);
    assert.equal(new URL(frame.url()).origin, agent.url, 'the frame is the agent, on another site than the portal');
    const iframe = page.locator('#lab iframe');
    assert.equal(await iframe.getAttribute('allow'), 'clipboard-read; clipboard-write');

    // The embed cookie: Secure, SameSite=None, partitioned under the portal's site, and kept by
    // Chromium although the agent is plain HTTP (it is loopback).
    const cookie = (await ctx.cookies(agent.url)).find((c) => c.name === 'nslab_embed');
    assert.ok(cookie, `an nslab_embed cookie (got ${JSON.stringify(await ctx.cookies())})`);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'None');
    assert.equal(cookie.partitionKey, 'http://localhost', 'partitioned under the top-level site');

    await waitPromptsIn(frame, PANES);
    const lab = await frame.evaluate(() => window.__nslab!.lab!);
    const ready = await waitEvent(page, 'nslab:ready', (e) => e.type === EMBED_EVENT.ready);
    assert.deepEqual(ready, { type: 'nslab:ready', lesson: 'uts', lab });

    // The lesson page's parts, without the site around them, fitted to the frame.
    assert.equal(await frame.locator('[data-pane]').count(), 2);
    assert.equal(await frame.locator('[data-task]').count(), 2);
    await frame.locator('[data-testid="ns-graph"]').waitFor();
    assert.equal(await frame.locator('.topbar, .langswitch, .crumbs').count(), 0, 'no top bar, language switch or course links');
    assert.equal(await frame.locator('.lesson-nav').isVisible(), false, 'no links to the other lessons');
    const fit = await frame.evaluate(() => ({
      doc: document.documentElement.scrollHeight,
      scrollY: (() => {
        window.scrollTo(0, 10_000);
        return window.scrollY;
      })(),
      vw: window.innerWidth,
      vh: window.innerHeight,
      layout: document.querySelector('.lesson-layout')!.getBoundingClientRect().bottom,
    }));
    assert.equal(fit.scrollY, 0, 'the page does not scroll beyond its frame');
    assert.ok(fit.doc <= fit.vh, `nothing below the frame's bottom (${JSON.stringify(fit)})`);
    assert.ok(fit.layout <= fit.vh + 0.5, `the lesson fits the frame's height (${JSON.stringify(fit)})`);
    const box = await iframe.boundingBox();
    assert.equal(Math.round(box!.width), fit.vw, 'the frame is as wide as its box');
    // nslab:size said what the view needs; the script keeps the frame at least that high.
    const size = await waitEvent(page, 'nslab:size', (e) => e.type === EMBED_EVENT.size);
    assert.ok(typeof size.height === 'number' && size.height >= 520, JSON.stringify(size));
    assert.equal(await iframe.evaluate((el) => el.style.minHeight), `${size.height}px`);
    // The link back to the portal, in the portal's window.
    const back = frame.locator('[data-embed-back]');
    assert.equal(await back.getAttribute('href'), `${portalUrl}/`);
    assert.equal(await back.getAttribute('target'), '_top');
    assert.match(await text(back), /Back to localhost:\d+/);

    // The script relays only its frame's messages: one the portal's own page posts is not an event.
    await page.evaluate(() => window.postMessage({ type: 'nslab:task', lesson: 'uts', task: 'forged', done: true }, '*'));

    // The learner does the tasks in the frame's panes.
    await runIn(frame, 'container', 'hostname -b bird');
    await frame.waitForSelector('[data-task="set-hostname"][data-status="done"]', { timeout: 30_000 });
    await waitEvent(page, 'the first task', (e) => e.type === EMBED_EVENT.task && e.task === 'set-hostname');
    assert.equal((await portalEvents(page)).filter((e) => e.type === EMBED_EVENT.complete).length, 0, 'not complete with one task of two');
    await runIn(frame, 'container', 'domainname nest');
    await frame.waitForSelector('[data-task="set-domain"][data-status="done"]', { timeout: 30_000 });
    const complete = await waitEvent(page, 'nslab:lesson-complete', (e) => e.type === EMBED_EVENT.complete);
    assert.deepEqual(complete, { type: 'nslab:lesson-complete', lesson: 'uts', tasks: 2 });
    assert.match(await screenOf(frame, 'container'), /domainname nest/);
    const tasks = (await portalEvents(page)).filter((e) => e.type === EMBED_EVENT.task);
    assert.deepEqual(tasks, [
      { type: 'nslab:task', lesson: 'uts', task: 'set-hostname', done: true },
      { type: 'nslab:task', lesson: 'uts', task: 'set-domain', done: true },
    ]);

    // The portal closes the lab through the API; its page hears why.
    const res = await fetch(`${agent.url}/api/v1/labs/${lab}`, { method: 'DELETE', headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200, await res.text());
    const closed = await waitEvent(page, 'nslab:closed', (e) => e.type === EMBED_EVENT.closed);
    assert.deepEqual(closed, { type: 'nslab:closed', lesson: 'uts', reason: 'closed by the training portal' });
    const all = await portalEvents(page);
    assert.deepEqual(
      all.filter((e) => e.type !== EMBED_EVENT.size).map((e) => e.type),
      ['nslab:ready', 'nslab:task', 'nslab:task', 'nslab:lesson-complete', 'nslab:closed'],
      'each event once, in order, and nothing the portal forged',
    );

    // A new launch for the same learner: a fresh lab, and the tasks done before, as the agent kept them.
    await iframe.evaluate((el) => el.setAttribute('data-old', ''));
    await page.click('#launch button[type="submit"]');
    const again = await frameOf(page, '#lab iframe:not([data-old])');
    assert.equal(await page.locator('#lab iframe').count(), 1, 'the new frame replaced the old one');
    await waitFor('the embed view in the new frame', () => /\/en\/embed\/uts$/.test(again.url()), 15_000);
    await waitPromptsIn(again, PANES);
    const lab2 = await again.evaluate(() => window.__nslab!.lab!);
    assert.notEqual(lab2, lab);
    await again.locator('[data-task="set-hostname"] .task-earlier').waitFor({ timeout: 10_000 });
    await again.locator('[data-task="set-domain"] .task-earlier').waitFor({ timeout: 10_000 });
    await waitEvent(page, 'nslab:ready of the new lab', (e) => e.type === EMBED_EVENT.ready && e.lab === lab2);
  } finally {
    await ctx.close();
  }
});

test('a page of an origin the key does not list cannot frame the lesson', { skip }, async () => {
  const { ctx, page, logs } = await portalWithLab(`${strangerUrl}/`, 'eve');
  try {
    const frame = await frameOf(page, '#lab iframe');
    await waitFor('Chromium to refuse the frame', () => logs.some((m) => /frame-ancestors/.test(m)), 15_000).catch((err) => {
      throw new Error(`${(err as Error).message}; console: ${logs.join('\n')}`);
    });
    assert.ok(
      logs.some((m) => m.includes(`frame-ancestors 'self' ${portalUrl}`)),
      `the refusal names the policy with the portal's origin only: ${logs.join('\n')}`,
    );
    assert.doesNotMatch(frame.url(), /\/embed\/uts/, 'the frame does not hold the embed view');
    assert.equal(await frame.locator('[data-pane], [data-task], [data-testid="ns-graph"]').count(), 0, 'no lesson in the frame');
    assert.deepEqual(await portalEvents(page), [], 'no event reaches the page');
  } finally {
    await ctx.close();
  }
});

test('the embed view without an embedded session says to open the lesson from the portal', { skip }, async () => {
  const ctx = await browser.newContext({ viewport: WIDE });
  try {
    const page = await ctx.newPage();
    const res = await page.goto(`${agent.url}/en/embed/uts`);
    assert.equal(res?.status(), 200);
    const note = page.locator('[data-embed="no-session"]');
    await note.waitFor();
    assert.match(await text(note), /Open this lesson from your training portal/);
    assert.equal(await page.locator('[data-pane]').count(), 0);
    assert.equal(await page.evaluate(() => window.__nslab?.lab ?? null), null, 'no lab opened');
    // The same in Chinese.
    await page.goto(`${agent.url}/zh/embed/uts`);
    await page.locator('[data-embed="no-session"]').waitFor();
    assert.match(await text(page.locator('[data-embed="no-session"]')), /请从你的培训平台打开这一课/);
  } finally {
    await ctx.close();
  }
});

test('a launch link works once, and not after it expired: each gets the clear refusal page', { skip }, async () => {
  // Used once at the top level (on localhost, whose Secure cookie Chromium keeps too), then again
  // in the portal's frame: refused there, in words.
  const first = await launchLink({ lesson: 'uts', user: 'bo' });
  const ctx = await browser.newContext({ viewport: WIDE });
  try {
    const page = await ctx.newPage();
    const local = first.url.replace('//127.0.0.1:', '//localhost:');
    const res = await page.goto(local);
    assert.equal(res?.status(), 200);
    assert.match(page.url(), /\/en\/embed\/uts$/);
    await page.locator('[data-embed="lesson"]').waitFor();
    await waitPromptsIn(page, PANES);
    const cookie = (await ctx.cookies(local)).find((c) => c.name === 'nslab_embed');
    assert.ok(cookie?.secure, 'Chromium keeps a Secure cookie from http://localhost');

    const again = await page.goto(local);
    assert.equal(again?.status(), 410);
    assert.match(await text(page.locator('[data-testid="note-title"]')), /does not work/);
    assert.match(await text(page.locator('body')), /used already/);

    const { ctx: pctx, page: portalPage } = await portalWithLab(`${portalUrl}/`, 'bo');
    try {
      await frameOf(portalPage, '#lab iframe');
      const refused = portalPage.waitForResponse((r) => r.url() === first.url);
      await portalPage.evaluate((url) => {
        const NSLab = (window as unknown as { NSLab: { mount(el: Element, o: { url: string }): unknown } }).NSLab;
        const box = document.createElement('div');
        box.id = 'reused';
        document.body.append(box);
        NSLab.mount(box, { url });
      }, first.url);
      assert.equal((await refused).status(), 410);
      const frame = await frameOf(portalPage, '#reused iframe');
      await frame.locator('[data-testid="note-title"]').waitFor();
      assert.match(await text(frame.locator('body')), /used already/);
    } finally {
      await pctx.close();
    }

    // A link used after its time.
    const late = await launchLink({ lesson: 'uts', user: 'cy', expiresIn: 10 });
    const expiresAt = Date.parse(late.expiresAt);
    await waitFor('the link to expire', () => Date.now() > expiresAt + 500, 20_000);
    const expired = await page.goto(late.url);
    assert.equal(expired?.status(), 410);
    assert.match(await text(page.locator('body')), /expired/);
  } finally {
    await ctx.close();
  }
});

test('Chromium keeps no Secure cookie from a plain-HTTP host that is not loopback: the view says to open it from the portal', { skip }, async () => {
  // The same agent under a name the browser resolves to 127.0.0.1 but does not count as loopback.
  const plain = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', `--host-resolver-rules=MAP ${PLAIN_HOST} 127.0.0.1`],
  });
  try {
    const ctx = await plain.newContext({ viewport: WIDE });
    const page = await ctx.newPage();
    const { url } = await launchLink({ lesson: 'uts', user: 'dee' });
    const named = url.replace('//127.0.0.1:', `//${PLAIN_HOST}:`);
    const res = await page.goto(named);
    assert.equal(res?.status(), 200);
    assert.match(page.url(), new RegExp(`^http://${PLAIN_HOST.replace(/\./g, '\\.')}:\\d+/en/embed/uts$`), 'the launch was used and redirected');
    await page.locator('[data-embed="no-session"]').waitFor();
    assert.equal((await ctx.cookies()).filter((c) => c.name === 'nslab_embed').length, 0, 'the Secure cookie was not stored');
  } finally {
    await plain.close();
  }
});

test('/embed/v1.js: the script, for any site, cached briefly, with an ETag', { skip }, async () => {
  const res = await fetch(`${agent.url}/embed/v1.js`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/javascript; charset=utf-8');
  assert.equal(res.headers.get('cache-control'), 'public, max-age=300');
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  const etag = res.headers.get('etag');
  assert.match(etag ?? '', /^"[A-Za-z0-9_-]+"$/);
  assert.match(await res.text(), /NSLab/);
  const cached = await fetch(`${agent.url}/embed/v1.js`, { headers: { 'if-none-match': etag! } });
  assert.equal(cached.status, 304);
  const head = await fetch(`${agent.url}/embed/v1.js`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('etag'), etag);
  assert.equal((await fetch(`${agent.url}/embed/v1.js`, { method: 'POST' })).status, 405);
});

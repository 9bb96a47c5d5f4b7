// A workshop outlives its agent: after `kill -9` and a start on the same store, the workshop,
// its seats, the learners' progress and their recordings are all still there; the instructor
// link still opens the room, and a learner's browser gets its seat back and a fresh lab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type Served } from '../helpers/server.ts';
import { launch, browserTestsSkip } from '../helpers/browser.ts';
import { openPage, run, waitFor, waitPrompts } from '../helpers/page.ts';
import { TestClient } from '../helpers/ws.ts';

const skip = browserTestsSkip('the workshop restart test');

test('after kill -9 and a restart: the workshop, seats, progress and recordings are kept', { skip }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'nslab-e2e-wrestart-'));
  const env = { NSLAB_DATA_DIR: join(root, 'data'), NSLAB_ID_BASE: '239000000', NSLAB_WARM_PER_LESSON: '0' };
  let agent: Served = await serve('nslabe2er', env);
  const browser = await launch();
  try {
    // Made from the page for the agent's operator (the token typed in, kept nowhere).
    const { page: maker } = await openPage(browser, `${agent.url}/en/instructor`);
    await maker.fill('form[data-new-workshop] input[name="token"]', agent.token);
    await maker.fill('form[data-new-workshop] input[name="title"]', 'Survives');
    await maker.fill('form[data-new-workshop] input[name="seats"]', '3');
    await maker.click('form[data-new-workshop] button[type="submit"]');
    await maker.waitForURL(/\/en\/instructor\/[a-z0-9]+#key=/);
    const made = new URL(maker.url());
    const id = made.pathname.split('/').pop()!;
    const w = {
      id,
      code: (await maker.locator('[data-join-code]').getAttribute('data-join-code'))!,
      instructorKey: decodeURIComponent(made.hash.replace('#key=', '')),
    };
    assert.match(w.code, /^[A-Z0-9]{8}$/);
    assert.equal(await maker.evaluate(() => document.documentElement.outerHTML.includes('e2e-')), false, 'the token is in no page');
    // A wrong token: refused, nothing made.
    const { page: wrong } = await openPage(browser, `${agent.url}/en/instructor`);
    await wrong.fill('form[data-new-workshop] input[name="token"]', 'not-the-token');
    await wrong.fill('form[data-new-workshop] input[name="title"]', 'Nope');
    await wrong.click('form[data-new-workshop] button[type="submit"]');
    await wrong.waitForSelector('[data-new-error]');
    const admin = await TestClient.connect(agent.url, agent.token);
    assert.deepEqual(
      (await admin.request({ type: 'workshop-list' })).data.map((x: { title: string }) => x.title),
      ['Survives'],
    );
    admin.close();
    const { ctx, page } = await openPage(browser, `${agent.url}/en/join?code=${w.code}`);
    await waitFor('the code from the link', async () => (await page.inputValue('form[data-join] input[name="code"]')) === w.code, 10_000);
    await page.fill('form[data-join] input[name="name"]', 'Ann');
    await page.click('form[data-join] button[type="submit"]');
    await page.waitForURL(/\/en\/lessons\/uts$/);
    await waitPrompts(page, ['host', 'container']);
    await run(page, 'container', 'hostname -b bird');
    await page.waitForSelector('[data-task="set-hostname"][data-status="done"]', { timeout: 30_000 });
    const dashUrl = (base: string) => `${base}/en/instructor/${w.id}#key=${encodeURIComponent(w.instructorKey)}`;
    const dash = (await openPage(browser, dashUrl(agent.url))).page;
    await dash.waitForSelector('[data-learner="Ann"] [data-task="uts/set-hostname"][data-status="done"]');
    await dash.waitForSelector('[data-learner="Ann"] a[data-cast="container"]');

    agent.proc.kill('SIGKILL');
    await new Promise((r) => agent.proc.once('exit', r));
    agent = await serve('nslabe2er', env);

    // The instructor link (its key kept as a hash) opens the same room, on the new address.
    const after = (await openPage(browser, dashUrl(agent.url))).page;
    await after.waitForSelector('[data-learner="Ann"] [data-task="uts/set-hostname"][data-status="done"]');
    const href = await after.locator('[data-learner="Ann"] a[data-cast="container"]').getAttribute('href');
    const cast = await (await fetch(`${agent.url}${href}`)).text();
    assert.equal(JSON.parse(cast.split('\n')[0]!).version, 2, 'the recording is still there');
    const typed = cast
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => JSON.parse(l) as [number, string, string])
      .filter((e) => e[1] === 'i')
      .map((e) => e[2])
      .join('');
    assert.ok(typed.includes('hostname -b bird'), `with what Ann typed: ${JSON.stringify(typed)}`);

    // Ann's browser (its cookie outlives the agent) has its seat back, and a fresh lab.
    await page.goto(`${agent.url}/en/lessons/uts`);
    await page.waitForSelector('.workshop-bar[data-workshop]');
    assert.match((await page.locator('.workshop-bar').textContent()) ?? '', /Survives/);
    await waitPrompts(page, ['host', 'container']);
    await ctx.close();
  } finally {
    await browser.close();
    await agent.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

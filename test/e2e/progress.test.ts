// Progress as a learner sees it on the course page: kept by the agent for the browser, so it is
// still there after the agent is killed with SIGKILL and started again on another port (where
// the page's own cache, localStorage, is empty: only the agent can have told it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type Served } from '../helpers/server.ts';
import { launch, browserTestsSkip } from '../helpers/browser.ts';
import { openPage, run, waitFor, waitPrompts } from '../helpers/page.ts';

const skip = browserTestsSkip('the progress tests');

test('the course page shows progress from the agent, after a SIGKILL and a restart, to the same browser only', { skip }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'nslab-e2e-progress-'));
  const env = { NSLAB_DATA_DIR: join(root, 'data'), NSLAB_ID_BASE: '237000000', NSLAB_WARM_PER_LESSON: '0' };
  let agent: Served = await serve('nslabe2ep', env);
  const browser = await launch();
  try {
    const { ctx, page } = await openPage(browser, `${agent.url}/en/lessons/uts`);
    await waitPrompts(page, ['host', 'container']);
    await run(page, 'container', 'hostname -b bird');
    await page.waitForSelector('[data-task="set-hostname"][data-status="done"]', { timeout: 30_000 });
    // Recorded by the agent (not only in this page's cache).
    await waitFor('the agent to record it', async () => {
      const r = await page.evaluate(async () => (await fetch('/api/progress')).json());
      return (r as { tasks: unknown[] }).tasks.length > 0;
    });

    agent.proc.kill('SIGKILL');
    await new Promise((r) => agent.proc.once('exit', r));
    agent = await serve('nslabe2ep', env);

    // Another port, another origin: an empty localStorage; the same cookie (cookies ignore ports).
    await page.goto(`${agent.url}/en`);
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing cached for this origin');
    const card = page.locator('[data-lesson="uts"] [data-progress]');
    await waitFor('the uts card to show a task done', async () => Number(await card.getAttribute('data-done')) >= 1, 15_000);
    await ctx.close();

    // A browser without that cookie has done nothing.
    const fresh = await openPage(browser, `${agent.url}/en`);
    const theirs = await fresh.page.evaluate(async () => (await fetch('/api/progress')).json());
    assert.deepEqual(theirs, { tasks: [] }, 'the agent has nothing for that browser');
    assert.equal(await fresh.page.locator('[data-lesson="uts"] [data-progress]').getAttribute('data-done'), '0');
    await fresh.ctx.close();
  } finally {
    await browser.close();
    await agent.stop();
    rmSync(root, { recursive: true, force: true });
  }
});

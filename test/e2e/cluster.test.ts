// A learner in Chromium through the router of three agents (docs/router.md): the lesson page comes
// from any agent, the lab lands on one of them, and a reload or a dropped connection brings back
// exactly the screen it had, on the machine that holds the lab, and the learner finishes the lesson.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { agentTag } from '@nslab/shared/cluster';
import { rootOrSkip } from '../helpers/env.ts';
import { launch, browserTestsSkip } from '../helpers/browser.ts';
import { expectScreen, run, serialized, waitFor, waitPrompts, withPage } from '../helpers/page.ts';
import { useCluster } from '../helpers/use-cluster.ts';
import type { Cluster, Router } from '../helpers/cluster.ts';

const skip = rootOrSkip('the cluster browser test') || browserTestsSkip('the cluster browser test');
let cluster: Cluster;
let router: Router;
let browser: Browser;

useCluster(skip, { hosts: 3, router: true, web: true }, (c, r) => void ([cluster, router] = [c, r!]));
before(async () => {
  if (!skip) browser = await launch();
});
after(async () => {
  await browser?.close();
});

test('through the router: a lesson in Chromium, its lab on one agent, and the exact screen after a reload and a drop', { skip, timeout: 240_000 }, async () => {
  await withPage(browser, `${router.url}/en/lessons/uts`, {}, async (page) => {
    await waitPrompts(page, ['host', 'container']);
    const lab = await page.evaluate(() => window.__nslab!.lab!);
    const tags = [1, 2, 3].map((n) => agentTag(cluster.host(n).id));
    assert.ok(tags.includes(lab.slice(0, 6)), `the lab id ${lab} names one of the three agents`);

    await run(page, 'host', `seq 1 60; printf '\\033[1;32mgreen\\033[0m\\n'; hostname`);
    await expectScreen(page, 'host', /^green$/m);
    await run(page, 'container', 'hostname bird; hostname');
    await expectScreen(page, 'container', /^bird$/m);
    await page.waitForSelector('[data-task="set-hostname"][data-status="done"]', { timeout: 30_000 });
    const host = await serialized(page, 'host');
    const container = await serialized(page, 'container');

    // A reload: the page is served by any agent, its connection goes to the lab's.
    await page.reload();
    await page.waitForFunction(() => !!window.__nslab?.lab, null, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.__nslab!.lab), lab, 'the same lab after the reload');
    await waitFor('the same host screen', async () => (await serialized(page, 'host')) === host, 20_000);
    await waitFor('the same container screen', async () => (await serialized(page, 'container')) === container, 20_000);

    // A dropped connection resumes through the router, and the shell answers.
    await page.evaluate(() => window.__nslab!.drop!(3000));
    await page.locator('[data-conn="unreachable"]').waitFor({ timeout: 20_000 });
    await page.locator('[data-conn="ready"]').waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.__nslab!.offsets!().container!.replay), 'resume', "the lab's agent sent just the missing bytes");
    await run(page, 'container', 'echo again-$((40+2))');
    await expectScreen(page, 'container', /^again-42$/m);
    // The lesson's last task, checked by the lab's agent, completes the lesson through the router.
    await run(page, 'container', 'domainname nest');
    await page.waitForSelector('[data-task="set-domain"][data-status="done"]', { timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.__nslab!.lab), lab);
  });
});

// Writing a lesson with the agent watching it (NSLAB_CONTENT=<dir> NSLAB_LESSONS_WATCH=1), in a
// real Chromium against the bundled agent and the built web app, on lessons outside the checkout:
// a new sentence in a step shows in the open page while its pane keeps what it showed; a task's
// changed check is what the agent checks from then on; a broken file shows its problem (file,
// line, field) instead of the lesson, and fixing it brings the lesson back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { serve, type Served } from '../helpers/server.ts';
import { launch, browserTestsSkip } from '../helpers/browser.ts';
import { expectScreen, run, screen, waitFor, waitPrompts, withPage } from '../helpers/page.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';

const skip = browserTestsSkip('the live lesson tests');

let served: Served;
let browser: Browser;
let dir: string;

const file = (lang: string) => join(dir, lang, 'uts.md');
const read = (lang: string) => readFileSync(file(lang), 'utf8');

before(async () => {
  if (skip) return;
  // Lessons outside the checkout: a copy of two shipped ones.
  dir = mkdtempSync(join(tmpdir(), 'nslab-live-lessons-'));
  for (const lang of ['en', 'zh']) {
    for (const id of ['uts', 'ipc']) cpSync(join(REPO_ROOT, 'content/lessons', lang, `${id}.md`), join(dir, lang, `${id}.md`));
  }
  served = await serve('nslabe2ew', { NSLAB_ID_BASE: '720000000', NSLAB_CONTENT: dir, NSLAB_LESSONS_WATCH: '1', NSLAB_WARM_LABS: '0' });
  served.reportUnexpectedExit();
  browser = await launch();
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await served?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the course page lists the lessons of the content directory, not the shipped ones', { skip }, async () => {
  const html = await (await fetch(`${served.url}/en`)).text();
  assert.match(html, /data-lesson="uts"/);
  assert.match(html, /data-lesson="ipc"/);
  assert.doesNotMatch(html, /data-lesson="pid"/);
  assert.equal((await fetch(`${served.url}/en/lessons/pid`)).status, 404);
  assert.equal((await fetch(`${served.url}/en/embed/ipc`)).status, 200);
});

test('an edited lesson reloads in the open page: text, tasks, its mistakes; the terminals stay', { skip }, async () => {
  await withPage(browser, `${served.url}/en/lessons/uts`, {}, async (page) => {
    await waitPrompts(page, ['host', 'container']);
    const lab = await page.evaluate(() => window.__nslab!.lab);
    assert.ok(lab);
    await run(page, 'host', 'echo before-the-$((6*7))-edit');
    await expectScreen(page, 'host', /before-the-42-edit/);
    const task = page.locator('[data-task="set-hostname"]');
    await waitFor('the first check round', async () => (await task.getAttribute('data-status')) === 'pending', 15_000);

    // 1. A new sentence in a step.
    const original = { en: read('en'), zh: read('zh') };
    const sentence = 'This sentence was written while the page was open.';
    writeFileSync(file('en'), original.en.replace('## Give the container a name {#hostname}\n', `## Give the container a name {#hostname}\n\n${sentence}\n`));
    const step = page.locator('[data-step="hostname"]');
    await waitFor('the new sentence in the page', async () => (await step.textContent())?.includes(sentence) === true, 15_000);
    assert.match(await screen(page, 'host'), /before-the-42-edit/, 'the pane still shows what it showed');
    assert.equal(await page.evaluate(() => window.__nslab!.lab), lab, 'the same lab');

    // 2. A task's check changed (in both languages, as they must agree): the container's host
    // name is already nslab, so under the new check the task is done without a command.
    const check = (text: string) => text.replace(/(run: uname -n\n\s+)stdout: bird/, '$1stdout: nslab');
    assert.notEqual(check(original.en), original.en);
    writeFileSync(file('zh'), check(original.zh));
    writeFileSync(file('en'), check(read('en')));
    await waitFor('the task done under its new check', async () => (await task.getAttribute('data-status')) === 'done', 20_000);
    assert.match(await screen(page, 'host'), /before-the-42-edit/);

    // 3. Bad front matter: the problem instead of the lesson, with the file, line and field.
    const good = read('en');
    writeFileSync(file('en'), good.replace(/^order: 1$/m, 'order: first'));
    const error = page.locator('[data-lesson-error]');
    await waitFor('the problem on the page', async () => (await error.count()) > 0 && (await error.isVisible()), 15_000);
    const text = (await error.textContent()) ?? '';
    assert.match(text, /en\/uts\.md:4: order: /, text);
    assert.equal(await page.locator('[data-step="hostname"]').count(), 0, 'the lesson is not shown');

    // 4. Fixed: the lesson is back, its lab and its output too.
    writeFileSync(file('en'), good);
    await waitFor('the lesson back', async () => (await error.count()) === 0 && (await step.count()) === 1, 15_000);
    assert.ok((await step.textContent())?.includes(sentence));
    await waitPrompts(page, ['host', 'container']);
    await expectScreen(page, 'host', /before-the-42-edit/);
    assert.equal(await page.evaluate(() => window.__nslab!.lab), lab, 'the same lab');
  });
});

test('changed panes cannot change in an open lab: the page says so', { skip }, async () => {
  await withPage(browser, `${served.url}/en/lessons/ipc`, {}, async (page) => {
    await waitPrompts(page, ['host', 'container']);
    const before = { en: readFileSync(join(dir, 'en', 'ipc.md'), 'utf8'), zh: readFileSync(join(dir, 'zh', 'ipc.md'), 'utf8') };
    const more = (t: string) => t.replace(/^panes:\n/m, 'panes:\n').replace(/(\n {2}- name: container\n {4}unshare:)/, '$1\n      - uts');
    assert.notEqual(more(before.en), before.en);
    writeFileSync(join(dir, 'zh', 'ipc.md'), more(before.zh));
    writeFileSync(join(dir, 'en', 'ipc.md'), more(before.en));
    const notice = page.locator('[data-lesson-panes-changed]');
    await waitFor('the notice', async () => (await notice.count()) === 1, 15_000);
    await waitPrompts(page, ['host', 'container']);
  });
});

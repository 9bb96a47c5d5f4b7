// The terminal in a real Chromium against the bundled agent and the built web app (protocol v2):
// a reload redraws exactly the screen it had (plain output and full-screen programs), a `yes`
// flood keeps the page responsive and stops at Ctrl-C, a read-only viewer follows the writer and
// can never type, pastes (large, bracketed, right-click, Shift+Insert) arrive whole and in order,
// copy on select fills the clipboard, and Chinese typed through an input method reaches the shell.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { FLOW_HIGH_BYTES } from '@nslab/shared';
import { serve, type Served } from '../helpers/server.ts';
import { launch, browserTestsSkip } from '../helpers/browser.ts';
import { cursor, expectScreen, openPage, run, screen, serialized, sleep, waitFor, waitPrompts, withPage } from '../helpers/page.ts';
import { TestClient } from '../helpers/ws.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';

const skip = browserTestsSkip('the terminal tests');

const LESSON = 'uts';
const ARTIFACTS = join(REPO_ROOT, 'test/artifacts');

let served: Served;
let browser: Browser;
let agent: TestClient;
before(async () => {
  if (skip) return;
  served = await serve('nslabterm', { NSLAB_ID_BASE: '250000000' });
  served.reportUnexpectedExit();
  browser = await launch();
  agent = await TestClient.connect(served.url, served.token);
});
after(async () => {
  if (skip) return;
  agent?.close();
  await browser?.close();
  await served?.stop();
});

// ---- helpers ----

const PANES = ['host', 'container'];

/** The lesson page (this file's lesson unless `path`) with both prompts shown, for the length of `fn`. */
function inLesson<T>(fn: (page: Page, ctx: BrowserContext) => Promise<T>, { path = `/en/lessons/${LESSON}`, clipboard = false } = {}): Promise<T> {
  return withPage(browser, served.url + path, { clipboard }, async (page, ctx) => {
    await waitPrompts(page, PANES);
    return fn(page, ctx);
  });
}

/** Run a command in the lab, beside the browser (the token holder may reach every lab). */
async function labExec(lab: string, script: string): Promise<string> {
  const r = await agent.request({ type: 'exec', lab, pane: 'host', argv: ['sh', '-c', script] });
  assert.equal(r.type, 'result', JSON.stringify(r));
  return Buffer.from(r.data.stdout, 'base64').toString();
}

const labOf = (page: Page) => page.evaluate(() => window.__nslab!.lab!);

/** Wait until the serialized screen equals `want` (the replay arrives just after the page loads). */
async function expectSameScreen(page: Page, pane: string, want: string, what: string) {
  let got: string | null = null;
  try {
    await waitFor(`the same ${what} screen in ${pane} after the reload`, async () => (got = await serialized(page, pane)) === want, 20_000);
  } catch (err) {
    // assert.equal shows where the two differ.
    assert.equal(got, want, (err as Error).message);
  }
}

// ---- the tests ----

test('a reload redraws exactly the screen it had: plain output, colours, and full-screen programs', { skip }, async () => {
  await inLesson(async (page) => {
    // Plain output with colours, long wrapped lines and enough lines to scroll.
    await run(page, 'host', `seq 1 120; printf '\\033[1;31mred\\033[0m \\033[42mgreen\\033[0m\\n'; printf 'x%.0s' $(seq 1 300); echo`);
    await expectScreen(page, 'host', /^red green$/m);
    // A full-screen program on the alternate buffer.
    await run(page, 'container', `seq -f 'line %g of the file' 1 500 > /tmp/long.txt`);
    await run(page, 'container', 'less /tmp/long.txt', { wait: false });
    await expectScreen(page, 'container', /line 10 of the file/);
    await page.keyboard.press('Space'); // a page further down
    await expectScreen(page, 'container', /line 3\d of the file/);
    await waitFor('less on the alternate buffer', () => page.evaluate(() => window.__nslab?.terms.container?.buffer.active.type === 'alternate'));
    await sleep(500); // let the last redraw land
    const host = await serialized(page, 'host');
    const container = await serialized(page, 'container');
    assert.ok(typeof host === 'string' && host.includes('120'), 'the host pane serializes');
    assert.ok(typeof container === 'string' && container.includes('line 30 of the file'), 'the container pane serializes');

    const lab = await labOf(page);
    await page.reload();
    await page.waitForFunction(() => !!window.__nslab?.lab, null, { timeout: 30_000 });
    assert.equal(await labOf(page), lab, 'the same lab after the reload');
    await expectSameScreen(page, 'host', host, 'plain');
    await expectSameScreen(page, 'container', container, 'full-screen');
    assert.equal(await page.evaluate(() => window.__nslab?.terms.container?.buffer.active.type), 'alternate', 'less is still on the alternate buffer');

    // The programs carry on after the replay: less quits back to the shell, the shell answers.
    await page.click('[data-pane="container"] .pane-term');
    await page.keyboard.press('q');
    await waitFor('the prompt after less', async () => (await cursor(page, 'container')).prompt);
    await run(page, 'container', 'echo after-$((20+1))');
    await expectScreen(page, 'container', /^after-21$/m);

    // vi too, with the screen compared after a second reload.
    await run(page, 'host', 'vi /tmp/long.txt', { wait: false });
    await expectScreen(page, 'host', /line 1 of the file/);
    await page.keyboard.type('20G', { delay: 20 });
    await sleep(500);
    const vi = await serialized(page, 'host');
    await page.reload();
    await page.waitForFunction(() => !!window.__nslab?.lab, null, { timeout: 30_000 });
    await expectSameScreen(page, 'host', vi!, 'vi');
    await page.click('[data-pane="host"] .pane-term');
    await page.keyboard.type(':q!\n', { delay: 20 });
    await waitFor('the prompt after vi', async () => (await cursor(page, 'host')).prompt);
  });
});

test('a dropped connection resumes the stream: the screen is kept, nothing lost or repeated', { skip }, async () => {
  await inLesson(async (page) => {
    await run(page, 'host', 'echo before-the-drop');
    // Output keeps coming while the network is away; it must all arrive, once, after it is back.
    await run(page, 'host', 'sleep 2; seq 1 300 | sed "s/^/n/"', { wait: false });
    // The network goes away for 4 s: the connection drops and new ones fail meanwhile.
    await page.evaluate(() => window.__nslab!.drop!(4000));
    await page.locator('[data-conn="unreachable"]').waitFor({ timeout: 20_000 });
    await page.locator('[data-conn="ready"]').waitFor({ timeout: 30_000 });
    await expectScreen(page, 'host', /^n300$/m, 30_000);
    assert.equal(await page.evaluate(() => window.__nslab!.offsets!().host!.replay), 'resume', 'the agent sent just the missing bytes');
    const text = await screen(page, 'host');
    const numbered = text.split('\n').filter((l) => /^n\d+$/.test(l));
    assert.deepEqual(
      numbered,
      Array.from({ length: 300 }, (_, i) => `n${i + 1}`),
      'every line once, in order',
    );
    assert.equal(text.match(/^before-the-drop$/gm)?.length, 1, 'the screen before the drop is kept, not replayed twice');
  });
});

test('yes: the page stays responsive, acknowledgements keep the output flowing, Ctrl-C stops it', { skip }, async () => {
  await inLesson(async (page) => {
    const start = (await page.evaluate(() => window.__nslab!.offsets!().host!.rendered)) as number;
    await run(page, 'host', 'yes', { wait: false });
    // Well past the agent's high watermark: without acks from the page the pane would stop there.
    const target = start + 4 * FLOW_HIGH_BYTES;
    for (;;) {
      // Each evaluation is a task in the page's event loop: it gets its turn during the flood.
      const o = await page.evaluate(() => window.__nslab!.offsets!().host!);
      if (o.acked > target) break;
      await sleep(100);
    }
    assert.match(await screen(page, 'host'), /^y$/m);
    for (let i = 0; i < 5; i++) assert.equal(await page.evaluate(() => 6 * 7), 42, 'the page answers during the flood');

    await page.click('[data-pane="host"] .pane-term');
    await page.keyboard.press('Control+c');
    await waitFor('the prompt after Ctrl-C', async () => (await cursor(page, 'host')).prompt, 30_000);
    // It stopped: nothing more arrives.
    const stopped = await page.evaluate(() => window.__nslab!.offsets!().host!.queued);
    await sleep(1500);
    assert.equal(await page.evaluate(() => window.__nslab!.offsets!().host!.queued), stopped, 'no output after the prompt');
    // (The scrollback is full of y: the cursor's line number no longer grows, so wait for the text.)
    await run(page, 'host', 'echo works-$((40+2))', { wait: false });
    await expectScreen(page, 'host', /^works-42$/m);
  });
});

test('a read-only viewer follows the writer live, can never type, and a revoked or bad link says so', { skip }, async () => {
  const writer = await openPage(browser, `${served.url}/en/lessons/${LESSON}`, { clipboard: true });
  let viewer: { ctx: BrowserContext; page: Page } | undefined;
  try {
    const w = writer.page;
    await waitPrompts(w, PANES);
    const lab = await labOf(w);
    await run(w, 'host', 'echo written-before-watching');

    // The writer mints a link; it lands in the clipboard too.
    await w.click('[data-share-open]');
    const linkBox = w.locator('[data-share-link]');
    await linkBox.waitFor({ timeout: 15_000 });
    const link = await linkBox.inputValue();
    const url = new URL(link);
    assert.equal(url.pathname, '/en/watch');
    assert.ok(url.hash.length > 10, 'the token is in the fragment');
    assert.equal(await w.evaluate(() => navigator.clipboard.readText()), link, 'the link was copied');

    // A second browser (its own cookies) opens it.
    viewer = await openPage(browser, served.url + url.pathname + url.hash);
    const v = viewer.page;
    await v.locator('[data-watch="live"]').waitFor({ timeout: 30_000 });
    assert.equal(await v.evaluate(() => window.__nslab?.lab), lab, 'the viewer watches the writer’s lab');
    await expectScreen(v, 'host', /^written-before-watching$/m);
    assert.equal(await v.evaluate(() => window.__nslab?.terms.host?.options.disableStdin), true, 'the viewer’s terminal takes no input');

    // Live: what the writer does, the viewer sees.
    await run(w, 'host', 'echo shared-$((6*7))');
    await expectScreen(v, 'host', /^shared-42$/m);
    mkdirSync(ARTIFACTS, { recursive: true });
    await w.screenshot({ path: join(ARTIFACTS, 'share-writer.png') });
    await v.screenshot({ path: join(ARTIFACTS, 'share-viewer.png') });
    // The viewer shows the writer's size.
    const size = (p: Page) => p.evaluate(() => ({ cols: window.__nslab!.terms.host.cols, rows: window.__nslab!.terms.host.rows }));
    await waitFor('the viewer at the writer’s size', async () => JSON.stringify(await size(v)) === JSON.stringify(await size(w)));
    await w.setViewportSize({ width: 1000, height: 700 });
    await waitFor('the writer to resize', async () => (await size(w)).cols !== 0);
    await waitFor('the viewer to follow the writer’s new size', async () => JSON.stringify(await size(v)) === JSON.stringify(await size(w)), 15_000);

    // The viewer types, clicks, pastes: nothing reaches the lab.
    await v.click('[data-pane="host"] .pane-term');
    await v.keyboard.type('touch /tmp/viewer-was-here; echo viewer-typed\n', { delay: 5 });
    await v.click('[data-pane="container"] .pane-term');
    await v.keyboard.type('touch /tmp/viewer-was-here-too\n', { delay: 5 });
    await run(w, 'host', 'echo writer-still-here');
    await expectScreen(v, 'host', /^writer-still-here$/m);
    await sleep(1000);
    assert.equal(await labExec(lab, 'ls /tmp/viewer-was-here /tmp/viewer-was-here-too 2>/dev/null | wc -l'), '0\n', 'no file made by the viewer');
    assert.doesNotMatch(await screen(w, 'host'), /viewer/, 'the writer’s screen shows nothing the viewer typed');
    assert.doesNotMatch(await screen(w, 'container'), /viewer/);

    // A link that was never minted.
    const bogus = await browser.newPage();
    await bogus.goto(`${served.url}/en/watch#${url.hash.slice(1, 20)}.nonsense.${'A'.repeat(43)}`);
    await bogus.locator('[data-watch="bad-link"]').waitFor({ timeout: 20_000 });
    assert.match((await bogus.locator('[data-watch]').textContent()) ?? '', /does not work/);
    await bogus.goto(`${served.url}/zh/watch`);
    await bogus.locator('[data-watch="no-link"]').waitFor({ timeout: 20_000 });
    assert.match((await bogus.locator('[data-watch]').textContent()) ?? '', /只读链接/);
    await bogus.close();

    // The writer revokes the link: opening it again is refused, clearly.
    await w.click('[data-share-revoke]');
    await w
      .locator('[data-share-note]')
      .filter({ hasText: /Revoked/ })
      .waitFor({ timeout: 15_000 });
    await v.reload();
    await v.locator('[data-watch="bad-link"]').waitFor({ timeout: 20_000 });
    assert.match((await v.locator('[data-watch]').textContent()) ?? '', /revoked/);

    // A fresh link works again, until the lab closes.
    await w.click('[data-share-new]');
    const again = await w.locator('[data-share-link]').inputValue();
    assert.notEqual(again, link, 'a new token');
    const next = new URL(again);
    await v.goto(served.url + next.pathname + next.hash);
    await v.locator('[data-watch="live"]').waitFor({ timeout: 30_000 });
    await agent.request({ type: 'close', lab });
    await v.locator('[data-watch="closed"]').waitFor({ timeout: 20_000 });
    assert.match((await v.locator('[data-watch]').textContent()) ?? '', /has closed/);
  } finally {
    await viewer?.ctx.close();
    await writer.ctx.close();
  }
});

test('IME: Chinese composed with an input method reaches the shell', { skip }, async () => {
  await inLesson(
    async (page, ctx) => {
      const lab = await labOf(page);
      await page.click('[data-pane="host"] .pane-term');
      await page.keyboard.type('echo ', { delay: 5 });
      // As an input method does it: a composition that changes as the learner types, then the commit.
      const cdp = await ctx.newCDPSession(page);
      // Paced like a person (xterm reads the composition back from its textarea on a timer): sent
      // back to back, the commit could overtake the last update.
      const ime = async (method: 'Input.imeSetComposition' | 'Input.insertText', params: Record<string, unknown>) => {
        await cdp.send(method, params as never);
        await page.waitForTimeout(60);
      };
      await ime('Input.imeSetComposition', { text: 'zhong', selectionStart: 5, selectionEnd: 5 });
      await ime('Input.imeSetComposition', { text: '中', selectionStart: 1, selectionEnd: 1 });
      await ime('Input.imeSetComposition', { text: '中文', selectionStart: 2, selectionEnd: 2 });
      await ime('Input.insertText', { text: '中文' });
      await page.keyboard.type(' > /tmp/ime.txt; cat /tmp/ime.txt', { delay: 5 });
      await page.keyboard.press('Enter');
      await expectScreen(page, 'host', /^中文$/m);
      assert.equal(await labExec(lab, 'cat /tmp/ime.txt'), '中文\n', 'the shell got the committed text, once, and no pinyin');
      // Text inserted without a composition (an on-screen keyboard, a dictation tool) too.
      await page.keyboard.insertText('echo 命名空间');
      await page.keyboard.press('Enter');
      await expectScreen(page, 'host', /^命名空间$/m);
    },
    { path: `/zh/lessons/${LESSON}` },
  );
});

test('paste: 200 KB arrives whole and in order; bracketed paste; right-click and Shift+Insert; copy on select', { skip }, async () => {
  await inLesson(
    async (page) => {
      const lab = await labOf(page);

      // 200 KB of numbered lines (the terminal's line discipline takes lines shorter than 4 KiB).
      const lines: string[] = [];
      for (let i = 1; lines.join('\n').length < 200_000; i++)
        lines.push(`${String(i).padStart(6, '0')} ${'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(2)} 中文`);
      const text = lines.join('\n') + '\n';
      const bytes = Buffer.byteLength(text);
      const sha = createHash('sha256').update(text).digest('hex');
      await run(page, 'host', 'cat > /tmp/paste.txt', { wait: false });
      await page.evaluate((t) => navigator.clipboard.writeText(t), text);
      await page.click('[data-pane="host"] .pane-term');
      await page.keyboard.press('Control+v');
      await page.keyboard.press('Control+d'); // queued behind the paste: ends cat once it has all
      await waitFor('the whole paste in the file', async () => (await labExec(lab, 'wc -c < /tmp/paste.txt')).trim() === String(bytes), 60_000).catch(
        async (err) => {
          throw new Error(`${(err as Error).message}: ${await labExec(lab, 'wc -c < /tmp/paste.txt; tail -c 200 /tmp/paste.txt')}`);
        },
      );
      assert.equal((await labExec(lab, 'sha256sum < /tmp/paste.txt')).split(' ')[0], sha, 'byte for byte, in order');
      await waitFor('the prompt after cat', async () => (await cursor(page, 'host')).prompt, 30_000);

      // Bracketed paste: a program that asks for it gets the paste between ESC[200~ and ESC[201~.
      await run(page, 'container', `printf '\\033[?2004h'; cat -v`, { wait: false });
      await waitFor('bracketed paste mode on', () => page.evaluate(() => window.__nslab?.terms.container?.modes.bracketedPasteMode === true));
      await page.evaluate(() => navigator.clipboard.writeText('pasted-in-brackets'));
      await page.keyboard.press('Control+v');
      await page.keyboard.press('Enter');
      await expectScreen(page, 'container', /^\^\[\[200~pasted-in-brackets\^\[\[201~$/m);
      await page.keyboard.press('Control+c');
      await waitFor('the prompt after cat -v', async () => (await cursor(page, 'container')).prompt);
      // The shell's prompt turns the mode off again for commands; a paste without it is plain.
      await run(page, 'container', `cat -v`, { wait: false });
      await waitFor('bracketed paste mode off', () => page.evaluate(() => window.__nslab?.terms.container?.modes.bracketedPasteMode === false));
      await page.evaluate(() => navigator.clipboard.writeText('pasted-plain'));
      await page.keyboard.press('Control+v');
      await page.keyboard.press('Enter');
      await expectScreen(page, 'container', /^pasted-plain\n/m);
      await page.keyboard.press('Control+c');
      await waitFor('the prompt after cat -v', async () => (await cursor(page, 'container')).prompt);

      // Right-click pastes the clipboard.
      await page.evaluate(() => navigator.clipboard.writeText('echo right-click-$((1+1))'));
      await page.click('[data-pane="host"] .pane-term', { button: 'right' });
      await waitFor('the right-click paste on the command line', async () => /right-click-\$\(\(1\+1\)\)$/.test(await screen(page, 'host')));
      await page.keyboard.press('Enter');
      await expectScreen(page, 'host', /^right-click-2$/m);

      // Shift+Insert pastes too.
      await page.evaluate(() => navigator.clipboard.writeText('echo shift-insert-$((2+2))'));
      await page.click('[data-pane="host"] .pane-term');
      await page.keyboard.press('Shift+Insert');
      await page.keyboard.press('Enter');
      await expectScreen(page, 'host', /^shift-insert-4$/m);
      assert.doesNotMatch(await screen(page, 'host'), /\^V|~$/m, 'no key codes reached the shell');

      // Copy on select: selecting text puts it on the clipboard.
      await page.evaluate(() => navigator.clipboard.writeText('nothing yet'));
      await page.evaluate(() => {
        const term = window.__nslab!.terms.host;
        const b = term.buffer.active;
        for (let y = b.length - 1; y >= 0; y--) {
          const line = b.getLine(y)?.translateToString(true) ?? '';
          if (line === 'shift-insert-4') return term.select(0, y, line.length);
        }
      });
      await waitFor('the selection on the clipboard', async () => (await page.evaluate(() => navigator.clipboard.readText())) === 'shift-insert-4', 10_000);
    },
    { clipboard: true },
  );
});

// The lesson page's layout and its namespace picture, in a real Chromium against the bundled
// agent with the built web app: at 1440x900 every shell has at least 80 columns, the picture
// shows each namespace's full name (the very text readlink prints in the pane), row heads never
// wrap a word per line nor overlap the names, and the layout the learner chose survives a reload;
// the picture shows what each lesson is about (host names, uid maps, devices and addresses, clock
// offsets, IPC objects), read back against what the kernel says in that lab; on a phone a Run
// shows what the command printed under its block instead of jumping to the terminal; code that
// is cut at the block's edge says so; a "deeper" block opens and its Run button works.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { loadLessons } from '@nslab/shared/content';
import { NAMESPACES, NAMESPACE_TYPES, type Lang } from '@nslab/shared';
import { serve, type Served } from '../helpers/server.ts';
import { launch, browserTestsSkip } from '../helpers/browser.ts';
import { PHONE, expectScreen, openPage, run, screen, waitFor, waitPrompts } from '../helpers/page.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';
import { checkDeeper, renderMarkdown } from '../../apps/web/lib/markdown.ts';

const skip = browserTestsSkip('the layout tests');
const LESSONS = loadLessons(join(REPO_ROOT, 'content/lessons'));
const ARTIFACTS = join(REPO_ROOT, 'test/artifacts');
const WIDE = { width: 1440, height: 900 };
const PANES = ['host', 'container'];

let served: Served;
let browser: Browser;
before(async () => {
  if (skip) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  served = await serve('nslablayout', { NSLAB_ID_BASE: '300000000', NSLAB_MAX_LABS: '16' });
  browser = await launch();
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await served?.stop();
});

/** A lesson page with its prompts shown, for the length of `fn`. */
async function inLesson(id: string, lang: Lang, viewport: { width: number; height: number }, fn: (page: Page) => Promise<void>) {
  const { ctx, page } = await openPage(browser, `${served.url}/${lang}/lessons/${id}`, { viewport, locale: lang === 'zh' ? 'zh-CN' : 'en-US' });
  try {
    await waitPrompts(page, PANES);
    // The layout settles (fonts in, the picture placed, the terminals fitted) before typing.
    let last = '';
    await waitFor('the terminals to keep their size', async () => {
      const now = await page.evaluate(() =>
        document.fonts.status === 'loaded' ? JSON.stringify(Object.values(window.__nslab!.terms).map((t) => [t.cols, t.rows])) : '',
      );
      const same = now !== '' && now === last;
      last = now;
      if (!same) await new Promise((r) => setTimeout(r, 250));
      return same;
    });
    await fn(page);
  } finally {
    await ctx.close();
  }
}

let tags = 0;
/** Run `command` in the pane and return its output lines, as the terminal shows them. */
async function output(page: Page, pane: string, command: string): Promise<string[]> {
  const tag = `@${++tags}@`;
  await run(page, pane, `${command} | sed 's/^/${tag} /'`).catch(async (err) => {
    throw new Error(`${(err as Error).message}\n--- ${pane} ---\n${await screen(page, pane)}`);
  });
  // The prompt can be drawn a frame before the lines above it reach the buffer we read: wait
  // until the tagged lines are there, with the prompt after them.
  const tagged = new RegExp(`^${tag} (.*)$`, 'gm');
  const text = await waitFor(
    `the output of ${command.slice(0, 40)} in ${pane}`,
    async () => {
      const t = await screen(page, pane);
      const last = [...t.matchAll(tagged)].at(-1);
      return last && /[#$] ?$/.test(t.slice(last.index! + last[0].length).trimEnd()) ? t : null;
    },
    10_000,
  ).catch(() => screen(page, pane));
  return [...text.matchAll(tagged)].map((m) => m[1]!.trimEnd());
}

/** The picture's box of `type` that the pane's shell is in. */
const boxOf = (page: Page, type: string, pane: string) => page.locator(`[data-testid="ns-graph"] [data-ns-row="${type}"] .nsbox[data-shells~="${pane}"]`);

/** Click the lesson's Run button for exactly this command (the first visible one), else type it. */
async function runLesson(page: Page, pane: string, command: string) {
  for (const b of await page.locator(`.codeblock[data-run-block="${pane}"]`).all()) {
    if ((await b.locator('code').textContent())?.trim() === command && (await b.isVisible())) {
      return run(page, pane, command, { send: () => b.locator('[data-action="run"]').click() });
    }
  }
  return run(page, pane, command);
}

test('at 1440x900 every shell has 80 columns and the picture names each namespace in full', { skip }, async () => {
  for (const [id, lang] of [
    ['uts', 'en'],
    ['net', 'zh'],
  ] as const) {
    await inLesson(id, lang, WIDE, async (page) => {
      const cols = await page.evaluate(() => Object.fromEntries(Object.entries(window.__nslab!.terms).map(([k, t]) => [k, t.cols as number])));
      for (const pane of PANES) assert.ok((cols[pane] ?? 0) >= 80, `${id}/${lang}: the ${pane} pane has ${cols[pane]} columns`);

      // What readlink says in each pane is what the picture shows, whole.
      for (const pane of PANES) {
        const said = await output(
          page,
          pane,
          'for t in ' + NAMESPACE_TYPES.map((t) => NAMESPACES[t].procName).join(' ') + '; do readlink /proc/$$/ns/$t; done',
        );
        assert.equal(said.length, NAMESPACE_TYPES.length, said.join('\n'));
        for (const [i, type] of NAMESPACE_TYPES.entries()) {
          const box = boxOf(page, type, pane);
          await waitFor(`the ${type} box of ${pane}`, async () => (await box.count()) === 1);
          const name = box.locator('[data-ns-name]');
          assert.equal((await name.textContent())?.trim(), said[i], `${type} of ${pane}`);
          const m = await name.evaluate((el) => {
            const r = el.getBoundingClientRect();
            // Every ancestor that clips (overflow other than visible) must hold the whole name.
            let clipped = false;
            for (let a = el.parentElement; a; a = a.parentElement) {
              const st = getComputedStyle(a);
              if (st.overflowX === 'visible' && st.overflowY === 'visible') continue;
              const ar = a.getBoundingClientRect();
              if (r.left < ar.left - 0.5 || r.right > ar.right + 0.5) clipped = true;
            }
            return { scroll: el.scrollWidth, client: el.clientWidth, clipped, visible: r.width > 0 };
          });
          assert.ok(m.visible && m.scroll <= m.client && !m.clipped, `${said[i]} is cut: ${JSON.stringify(m)}`);
        }
      }

      // Row heads: the type and "shared"/"separate" each on one line, beside each other, never on a name.
      const heads = await page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('[data-testid="ns-graph"] .ns-row')].map((row) => {
          const type = row.querySelector('.ns-type')!.getBoundingClientRect();
          const verdict = row.querySelector('.verdict')!;
          const v = verdict.getBoundingClientRect();
          const lineH = parseFloat(getComputedStyle(verdict).lineHeight) || 16;
          const overlaps = [...row.querySelectorAll('.nsbox-inode')].some((n) => {
            const r = n.getBoundingClientRect();
            return !(r.right <= v.left || r.left >= v.right || r.bottom <= v.top || r.top >= v.bottom);
          });
          return { row: row.dataset.nsRow, typeH: type.height, verdictH: v.height, lineH, overlaps };
        }),
      );
      for (const h of heads) {
        assert.ok(h.verdictH < h.lineH * 1.6 && h.typeH < 30, `${lang}: the ${h.row} row's head wraps: ${JSON.stringify(h)}`);
        assert.ok(!h.overlaps, `${lang}: "shared" overlaps a name in the ${h.row} row`);
      }
      await page.screenshot({ path: join(ARTIFACTS, `layout-${id}-${lang}-1440.png`) });
    });
  }
});

test('the layout the learner chose is kept across a reload', { skip }, async () => {
  await inLesson('pid', 'en', WIDE, async (page) => {
    const arrangement = () => page.locator('.bench').getAttribute('data-arrangement');
    assert.equal(await arrangement(), 'rows', 'stacked at 1440 px: side by side would cost columns');
    await page.click('[data-layout-panes]');
    assert.equal(await arrangement(), 'columns');
    await page.click('.layout-buttons [data-picture-toggle]');
    await page.locator('.picture-wrap[data-open="false"]').waitFor();
    await page.reload();
    await waitPrompts(page, PANES);
    assert.equal(await arrangement(), 'columns', 'side by side after the reload');
    assert.equal(await page.locator('.picture-wrap').getAttribute('data-open'), 'false', 'the picture stays folded');
    // The folded picture's rail opens it again; stacked again gives every shell 80 columns.
    await page.click('.picture-rail');
    await page.click('[data-layout-panes]');
    assert.equal(await arrangement(), 'rows');
    await page.locator('.picture-wrap[data-open="true"] [data-testid="ns-graph"]').waitFor();
    await waitFor('80 columns again', () => page.evaluate(() => Object.values(window.__nslab!.terms).every((t) => t.cols >= 80)));
  });
});

test('the picture shows what each lesson is about, as the kernel says it in the lab', { skip }, async (t) => {
  await t.test('uts: the host name of each UTS namespace', () =>
    inLesson('uts', 'en', WIDE, async (page) => {
      await runLesson(page, 'container', 'hostname -b bird');
      for (const pane of PANES) {
        const [name] = await output(page, pane, 'uname -n');
        const fact = boxOf(page, 'uts', pane).locator('[data-fact="hostname"]');
        await waitFor(`the picture's host name of ${pane} (${name})`, async () => (await fact.textContent())?.trim() === name, 15_000);
        assert.ok(await fact.isVisible());
      }
      assert.equal((await boxOf(page, 'uts', 'container').locator('[data-fact="hostname"]').textContent())?.trim(), 'bird');
    }),
  );

  await t.test('user: the uid map of each user namespace, up to the host', () =>
    inLesson('user', 'zh', WIDE, async (page) => {
      const maps: Record<string, number[][]> = {};
      for (const pane of PANES) {
        maps[pane] = (await output(page, pane, 'cat /proc/self/uid_map')).map((l) => l.trim().split(/\s+/).map(Number));
        const box = boxOf(page, 'user', pane);
        const want = maps[pane]!.map((x) => x.join(' ')).sort();
        await waitFor(
          `the picture's uid map of ${pane} (${want.join(', ')})`,
          async () => {
            const shown = await box.locator('[data-uid-map]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.uidMap!));
            return JSON.stringify(shown.sort()) === JSON.stringify(want);
          },
          15_000,
        );
      }
      // The chain: root in the container is an id in the lab, which is an id on the host.
      const [inside, inLab] = maps.container![0]!;
      const lab = maps.host!.find(([i, , n]) => inLab! >= i! && inLab! < i! + n!)!;
      const onHost = lab[1]! + (inLab! - lab[0]!);
      const chain = ((await boxOf(page, 'user', 'container').locator('.idchain').first().textContent()) ?? '').replace(/\s+/g, ' ');
      assert.match(chain, new RegExp(`${inside}.*${inLab}.*${onHost}`), `the chain ${inside} → ${inLab} → ${onHost}: ${chain}`);
    }),
  );

  await t.test('net: the devices and addresses of each network namespace', () =>
    inLesson('net', 'en', WIDE, async (page) => {
      await runLesson(page, 'container', 'ip link set lo up');
      for (const pane of PANES) {
        const links = (await output(page, pane, 'ip -o link')).map((l) => {
          const m = /^\d+:\s+([^:@\s]+)[@:].*<([^>]*)>/.exec(l)!;
          return `${m[1]} ${m[2]!.split(',').includes('UP')}`;
        });
        const addrs = (await output(page, pane, 'ip -o -4 addr')).map((l) => {
          const m = /^\d+:\s+(\S+)\s+inet\s+(\S+)/.exec(l)!;
          return `${m[1]} ${m[2]}`;
        });
        const box = boxOf(page, 'net', pane);
        await waitFor(
          `the picture's devices of ${pane} (${links.join(', ')}; ${addrs.join(', ')})`,
          async () => {
            const shown = await box.locator('[data-device]').evaluateAll((els) =>
              els.map((e) => ({
                link: `${(e as HTMLElement).dataset.device} ${(e as HTMLElement).dataset.up}`,
                addrs: [...e.querySelectorAll('.dev-addr')].map((a) => `${(e as HTMLElement).dataset.device} ${a.textContent}`),
              })),
            );
            return (
              JSON.stringify(shown.map((x) => x.link).sort()) === JSON.stringify([...links].sort()) &&
              JSON.stringify(shown.flatMap((x) => x.addrs).sort()) === JSON.stringify([...addrs].sort())
            );
          },
          15_000,
        );
      }
    }),
  );

  await t.test('time: the clock offsets of each time namespace', () =>
    inLesson('time', 'en', WIDE, async (page) => {
      for (const pane of PANES) {
        const said = Object.fromEntries((await output(page, pane, 'cat /proc/self/timens_offsets')).map((l) => l.trim().split(/\s+/)).map(([k, v]) => [k, v]));
        const fact = boxOf(page, 'time', pane).locator('[data-fact="offsets"]');
        await waitFor(
          `the picture's offsets of ${pane} (${JSON.stringify(said)})`,
          async () => {
            const shown = await fact
              .evaluate((e) => ({ monotonic: (e as HTMLElement).dataset.monotonic, boottime: (e as HTMLElement).dataset.boottime }))
              .catch(() => null);
            return shown?.monotonic === said.monotonic && shown?.boottime === said.boottime;
          },
          15_000,
        );
        const text = (await fact.locator('[data-clock="monotonic"]').textContent()) ?? '';
        assert.ok(text.includes(said.monotonic === '0' ? '0 s' : `+${said.monotonic} s`), `shown: ${text}`);
      }
    }),
  );

  await t.test('ipc: the System V objects of each IPC namespace', () =>
    inLesson('ipc', 'zh', WIDE, async (page) => {
      await run(page, 'host', 'ipcmk -Q');
      for (const pane of PANES) {
        const queues = (await output(page, pane, 'ipcs -q'))
          .map((l) => /^(0x[0-9a-f]+)\s+(\d+)\s/.exec(l))
          .filter((m) => m)
          .map((m) => `queue ${m![1]} ${m![2]}`);
        const box = boxOf(page, 'ipc', pane);
        await waitFor(
          `the picture's IPC objects of ${pane} (${queues.join(', ') || 'none'})`,
          async () => {
            const shown = await box.locator('[data-ipc^="queue "]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.ipc!));
            return JSON.stringify(shown.sort()) === JSON.stringify(queues.sort());
          },
          15_000,
        );
      }
    }),
  );
});

test('the lab’s PID 1 is explained; the PID levels show only where a PID namespace is in play', { skip }, async () => {
  await inLesson('uts', 'en', WIDE, async (page) => {
    await page.locator('[data-testid="ns-graph"][data-ready="true"]').waitFor();
    const init = page.locator('[data-testid="ns-graph"] .proc[data-init]').first();
    assert.match((await init.getAttribute('title')) ?? '', /PID 1.*orphan/);
    assert.equal(await page.locator('[data-init-legend]').count(), 1);
    assert.equal(await page.locator('[data-pid-tree]').count(), 0, 'no PID levels in the UTS lesson');
    // The learner makes a PID namespace: now the levels teach something.
    await run(page, 'host', 'unshare --pid --fork sleep 1000 &');
    await page.locator('[data-pid-tree]').waitFor({ timeout: 15_000 });
  });
  await inLesson('pid', 'en', WIDE, async (page) => {
    await page.locator('[data-pid-tree] [data-pid-ns][data-depth="1"]').waitFor({ timeout: 15_000 });
  });
});

test('on a phone a Run shows what the command printed under its block, and stays in the text', { skip }, async () => {
  await inLesson('uts', 'en', PHONE, async (page) => {
    const block = page
      .locator('.codeblock[data-run-block="container"]')
      .filter({ has: page.locator('code', { hasText: /^hostname$/ }) })
      .first();
    await block.scrollIntoViewIfNeeded();
    const before = await page.evaluate(() => scrollY);
    await block.locator('[data-action="run"]').click();
    const preview = block.locator('[data-run-preview="container"]');
    await preview.waitFor({ timeout: 10_000 });
    await waitFor('the command to finish in the preview', async () => (await preview.getAttribute('data-done')) === 'true');
    await expectScreen(page, 'container', /^nslab$/m);
    assert.equal((await preview.locator('[data-preview-lines]').textContent())?.trim(), 'nslab', 'the preview shows what the pane printed');
    assert.ok(Math.abs((await page.evaluate(() => scrollY)) - before) < 40, 'the page did not jump to the terminal');
    await page.screenshot({ path: join(ARTIFACTS, 'layout-phone-preview.png') });
    await preview.locator('[data-preview-open]').click();
    await waitFor('the terminal in view', () =>
      page.evaluate(() => {
        const r = document.querySelector('[data-pane="container"]')!.getBoundingClientRect();
        return r.top < innerHeight && r.bottom > 0;
      }),
    );
  });
});

test('code cut at the edge of its block says so', { skip }, async () => {
  await inLesson('net', 'en', PHONE, async (page) => {
    // The first block (outside a closed "deeper" block) whose code is wider than it.
    const found = await page.evaluate(() => {
      const pre = [...document.querySelectorAll<HTMLElement>('.codeblock pre')].find((p) => p.offsetParent && p.scrollWidth > p.clientWidth + 20);
      if (pre) pre.dataset.testWide = '';
      return !!pre;
    });
    assert.ok(found, 'on a phone some command is wider than its block');
    const pre = page.locator('pre[data-test-wide]');
    await pre.scrollIntoViewIfNeeded();
    await waitFor('a cut block marked', async () => (await pre.getAttribute('data-scroll')) === 'right');
    assert.match((await pre.evaluate((e) => getComputedStyle(e).maskImage || getComputedStyle(e).webkitMaskImage)) ?? '', /gradient/);
    await pre.evaluate((e) => (e.scrollLeft = e.scrollWidth));
    await waitFor('scrolled to the end', async () => (await pre.getAttribute('data-scroll')) === 'left');
  });
});

test('a "deeper" block opens, and its Run button works', { skip }, async (t) => {
  const found = LESSONS.flatMap((lesson) =>
    (['en', 'zh'] as const).flatMap((lang) =>
      lesson.docs[lang].steps.flatMap((step) =>
        [...step.markdown.matchAll(/^:::deeper[^\n]*\n([\s\S]*?)^:::[ \t]*$/gm)].map((m) => ({ lesson, lang, step: step.id, inside: m[1]! })),
      ),
    ),
  );
  if (!found.length) return t.skip('no lesson has a :::deeper block yet');
  const withRun = found.find((f) => /^```[^\n]*\bpane=(host|container)\b/m.test(f.inside));
  const target = withRun ?? found[0]!;
  await inLesson(target.lesson.id, target.lang, WIDE, async (page) => {
    const deeper = page.locator(`[data-step="${target.step}"] details.deeper`).first();
    assert.equal(await deeper.evaluate((d) => (d as HTMLDetailsElement).open), false, 'closed at first');
    await deeper.locator('summary').click();
    assert.equal(await deeper.evaluate((d) => (d as HTMLDetailsElement).open), true, 'open after a click');
    if (!withRun) return t.diagnostic('no :::deeper block has a Run button yet: only opening was checked');
    const block = deeper.locator('.codeblock[data-run-block]').first();
    const pane = (await block.getAttribute('data-run-block'))!;
    const command = ((await block.locator('code').textContent()) ?? '').split('\n')[0]!.trim();
    await run(page, pane, command, { send: () => block.locator('[data-action="run"]').click() });
    assert.ok((await screen(page, pane)).includes(command), `the ${pane} pane got "${command}"`);
  });
});

test('lesson Markdown: a :::deeper block is a closed <details> with its summary, its inside Markdown', () => {
  const html = renderMarkdown(
    ['Before.', '', ':::deeper How it was *made*', 'Inside.', '', '```sh pane=host', 'echo hi', ':::', '```', ':::', '', 'After.'].join('\n'),
    'en',
  );
  assert.match(html, /<details class="deeper"><summary>How it was <em>made<\/em><\/summary>/);
  assert.match(html, /<div class="deeper-body prose"><p>Inside.<\/p>\n<div class="codeblock codeblock-run" data-run-block="host">/);
  assert.match(html, /<code class="language-sh">echo hi\n:::<\/code>/, 'a ::: line inside a code fence belongs to the code');
  assert.match(html, /<\/details>\n<p>After.<\/p>/);
  assert.doesNotMatch(html, /<details[^>]* open/);
  assert.throws(() => checkDeeper(':::deeper Never closed\ntext\n'), /line 1: ":::deeper" has no closing ":::" line/);
  assert.throws(() => checkDeeper('text\n:::\n'), /line 2: ":::" closes no/);
  // Every lesson's text renders.
  for (const lesson of LESSONS) for (const lang of ['en', 'zh'] as const) for (const step of lesson.docs[lang].steps) renderMarkdown(step.markdown, lang);
});

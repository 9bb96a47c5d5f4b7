// The namespace builder in a real Chromium against the bundled agent: a learner makes a pane,
// then a second one nested inside it; the picture shows the nested pane inside its parent's
// namespaces and in new ones of its own; each of the nested pane's four snippets, copied off the
// page, is compiled (C with gcc, Go with Go, the TypeScript with esbuild) and run as root in that
// very lab, where the kernel's /proc must show exactly the namespaces chosen, inside the parent's;
// closing the parent closes both panes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { build } from 'esbuild';
import { NAMESPACE_TYPES, type NamespaceType } from '@nslab/shared';
import { serve, type Served } from '../helpers/server.ts';
import { launch, browserTestsSkip } from '../helpers/browser.ts';
import { openPage, waitFor, waitPrompts } from '../helpers/page.ts';
import { TestClient } from '../helpers/ws.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';
import { IN_CI } from '../helpers/env.ts';

const toolsMissing = ['gcc', 'go'].filter((c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0);
if (IN_CI && toolsMissing.length) throw new Error(`the builder test needs ${toolsMissing.join(', ')}`);
const skip = browserTestsSkip('the builder tests') || (toolsMissing.length ? `needs ${toolsMissing.join(', ')}` : false);

let served: Served;
let browser: Browser;
before(async () => {
  if (skip) return;
  served = await serve('nslabe2eb', { NSLAB_ID_BASE: '350000000', NSLAB_MAX_LABS: '8' });
  browser = await launch();
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await served?.stop();
});

/** Tick exactly these types (and these options), pick the parent, press Create. */
async function create(page: Page, types: NamespaceType[], opts: { hostname?: string; parent?: string }) {
  for (const t of NAMESPACE_TYPES) {
    const box = page.locator(`input[data-ns="${t}"]`);
    if ((await box.isChecked()) !== types.includes(t)) await box.click();
  }
  if (opts.hostname !== undefined) await page.fill('input[data-option="hostname"]', opts.hostname);
  await page.selectOption('select[data-nest]', opts.parent ?? '');
  await page.click('button[data-create]');
}

const snippetOf = (page: Page, pane: string, lang: string) => page.locator(`[data-pane="${pane}"] [data-snippet="${lang}"]`).textContent();

test('a nested pane: made in Chromium, shown inside its parent, and each of its snippets makes exactly that pane', { skip }, async () => {
  const { ctx, page } = await openPage(browser, `${served.url}/en/builder`, { viewport: { width: 1440, height: 1000 } });
  const work = mkdtempSync('/var/tmp/nslab-e2e-builder-');
  chmodSync(work, 0o755);
  const c = await TestClient.connect(served.url, served.token);
  try {
    await waitPrompts(page, ['host']);
    const lab = await page.evaluate(() => window.__nslab!.lab!);

    await create(page, ['user', 'uts', 'mnt', 'pid'], { hostname: 'outer' });
    await page.waitForSelector('[data-pane="ns1"]');
    await waitPrompts(page, ['ns1']);
    await page.selectOption('select[data-nest]', 'ns1');
    await create(page, ['ipc', 'net', 'uts'], { hostname: 'inner', parent: 'ns1' });
    await page.waitForSelector('[data-pane="ns2"]');
    await waitPrompts(page, ['ns2']);

    // The picture: ns2 shares ns1's user, mount and PID namespaces (none of them the lab's), and
    // sits alone in new IPC, network and UTS ones.
    const shellsIn = (type: NamespaceType) =>
      page.$$eval(`[data-ns-row="${type}"] .nsbox`, (els) => els.map((e) => (e.getAttribute('data-shells') ?? '').split(' ').filter(Boolean)));
    await waitFor('the picture to show both panes', async () => (await shellsIn('ipc')).some((s) => s.includes('ns2')), 20_000);
    for (const type of ['user', 'mnt', 'pid'] as const) {
      const boxes = await shellsIn(type);
      assert.ok(
        boxes.some((s) => s.includes('ns1') && s.includes('ns2') && !s.includes('host')),
        `${type}: ns2 is in ns1's namespace (${JSON.stringify(boxes)})`,
      );
    }
    for (const type of ['ipc', 'net', 'uts'] as const) {
      const boxes = await shellsIn(type);
      assert.ok(
        boxes.some((s) => s.length === 1 && s[0] === 'ns2'),
        `${type}: ns2 has a namespace of its own (${JSON.stringify(boxes)})`,
      );
    }

    // The four snippets beside ns2, as a person would copy them, made and run in this lab.
    const snippets = {
      shell: (await snippetOf(page, 'ns2', 'shell'))!,
      c: (await snippetOf(page, 'ns2', 'c'))!,
      go: (await snippetOf(page, 'ns2', 'go'))!,
      ts: (await snippetOf(page, 'ns2', 'ts'))!,
    };
    for (const [lang, text] of Object.entries(snippets)) assert.ok(text.length > 40, `the ${lang} snippet is there`);
    const programs = await buildAll(work, snippets);

    // What the kernel says of ns1's shell (the parent), seen from the lab's host pane.
    const exec = async (argv: string[], stdin = '') => {
      const r = await c.request({ type: 'exec', lab, pane: 'host', argv, stdin: Buffer.from(stdin).toString('base64'), timeoutMs: 60_000 });
      assert.equal(r.type, 'result', JSON.stringify(r));
      return {
        code: r.data.exitCode as number | null,
        out: Buffer.from(r.data.stdout, 'base64').toString(),
        err: Buffer.from(r.data.stderr, 'base64').toString(),
      };
    };
    const labPids = await c.request({ type: 'inspect', lab });
    const ns1Pid = (labPids.data.panes as Array<{ name: string; pid: number }>).find((p) => p.name === 'ns1')!.pid;
    const links = (prefix: string, pid: string) => NAMESPACE_TYPES.map((t) => `readlink /proc/${pid}/ns/${t} | sed 's/^/${prefix}${t} /'`).join('; ');
    const nsLines = (out: string, prefix: string) =>
      Object.fromEntries([...out.matchAll(new RegExp(`^${prefix}(\\w+) (.*)$`, 'gm'))].map((m) => [m[1]!, m[2]!])) as Record<NamespaceType, string>;
    const parent = nsLines((await exec(['/bin/sh', '-c', links('p:', String(ns1Pid))])).out, 'p:');
    assert.equal(Object.keys(parent).length, 8, 'the parent’s namespaces are readable');

    for (const [lang, argv] of Object.entries(programs)) {
      const probe = `${links('n:', '$$')}\nhostname | sed 's/^/h:/'\nexit\n`;
      const r = await exec(argv, probe);
      const ns = nsLines(r.out, 'n:');
      assert.equal(Object.keys(ns).length, 8, `${lang}: the program's shell reported its namespaces (exit ${r.code})\n${r.out}\n${r.err}`);
      const differ = NAMESPACE_TYPES.filter((t) => ns[t] !== parent[t]).sort();
      assert.deepEqual(differ, ['ipc', 'net', 'uts'], `${lang}: exactly the chosen namespaces are new, inside ns1's\n${r.out}\n${r.err}`);
      assert.match(r.out, /^h:inner$/m, `${lang}: the host name is set`);
    }

    // Closing the parent closes the pane made inside it.
    await page.click('[data-pane="ns1"] [data-pane-close]');
    await waitFor('both panes to go', async () => (await page.locator('[data-pane="ns1"], [data-pane="ns2"]').count()) === 0, 15_000);
    const list = await c.request({ type: 'list' });
    const mine = (list.data as Array<{ id: string; panes: Array<{ name: string }> }>).find((l) => l.id === lab)!;
    assert.deepEqual(
      mine.panes.map((p) => p.name),
      ['host'],
    );
  } finally {
    c.close();
    await ctx.close();
    rmSync(work, { recursive: true, force: true });
  }
});

/**
 * Write and build the snippets in `dir` (a host directory the lab sees through its root
 * filesystem): C with gcc, Go with go build, the TypeScript bundled for node with koffi beside it.
 * The command line to run each, inside the lab.
 */
async function buildAll(dir: string, s: { shell: string; c: string; go: string; ts: string }): Promise<Record<string, string[]>> {
  const must = (what: string, r: ReturnType<typeof spawnSync>) => {
    if (r.status !== 0) throw new Error(`${what} failed: ${r.error?.message ?? ''}\n${r.stdout}\n${r.stderr}`);
  };
  writeFileSync(join(dir, 'pane.sh'), s.shell);
  writeFileSync(join(dir, 'pane.c'), s.c);
  must('gcc', spawnSync('gcc', ['-Wall', '-Werror', '-o', join(dir, 'pane-c'), join(dir, 'pane.c')], { encoding: 'utf8', timeout: 60_000 }));
  const goDir = join(dir, 'go');
  mkdirSync(goDir);
  writeFileSync(join(goDir, 'main.go'), s.go);
  const env = { ...process.env, HOME: dir, GOCACHE: join(dir, 'go-cache'), GOPATH: join(dir, 'go-path'), GOFLAGS: '', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' };
  must('go mod init', spawnSync('go', ['mod', 'init', 'pane'], { cwd: goDir, env, encoding: 'utf8', timeout: 60_000 }));
  must('go build', spawnSync('go', ['build', '-o', join(dir, 'pane-go'), '.'], { cwd: goDir, env, encoding: 'utf8', timeout: 180_000 }));
  writeFileSync(join(dir, 'pane.ts'), s.ts);
  // The repository is hidden from labs: koffi goes beside the program, as a user would install it.
  for (const m of ['koffi', '@koromix']) cpSync(join(REPO_ROOT, 'node_modules', m), join(dir, 'node_modules', m), { recursive: true, dereference: true });
  await build({ entryPoints: [join(dir, 'pane.ts')], outfile: join(dir, 'pane.mjs'), format: 'esm', platform: 'node', target: 'node20', logLevel: 'silent' });
  return {
    shell: ['/bin/bash', join(dir, 'pane.sh')],
    c: [join(dir, 'pane-c')],
    go: [join(dir, 'pane-go')],
    // As its comment says, the script loads koffi from the directory it is run in.
    ts: ['/bin/sh', '-c', `cd ${dir} && exec /usr/bin/node pane.mjs`],
  };
}

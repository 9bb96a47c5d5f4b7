// Every lesson as a learner does it, in a real Chromium against the bundled agent with the built
// web app: open /<lang>/lessons/<id>, wait for both shells' prompts, type the lesson's main
// experiment into the panes (or click its Run button when the lesson text has that very command),
// read the screens back from xterm's buffer, and wait until the lesson's tasks (checked by the
// agent, as written in content/lessons) show done; the namespace picture must show the container
// in a namespace of its own for each type the lesson is about. Also: the language switch keeps
// the lesson (and the lab), `/` redirects by Accept-Language, a shell that exits can be
// restarted, and a lost agent is said so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { loadLessons, type Lesson } from '@nslab/shared/content';
import { clickToRun, type Lang } from '@nslab/shared';
import { serve, type Served } from '../helpers/server.ts';
import { launch, browserTestsSkip } from '../helpers/browser.ts';
import { LAPTOP, PHONE, cursor, expectScreen, openPage, run, screen, typeCommand, waitFor, waitPrompts } from '../helpers/page.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';

const skip = browserTestsSkip('the lesson tests');

const LESSONS: Lesson[] = loadLessons(join(REPO_ROOT, 'content/lessons'));
const ARTIFACTS = join(REPO_ROOT, 'test/artifacts');

// ---- driving a lesson page ----

class LessonPage {
  /** Commands sent with the lesson's own Run buttons (the rest were typed). */
  runClicks = 0;

  constructor(
    readonly page: Page,
    readonly lesson: Lesson,
    readonly lang: Lang,
  ) {}

  get panes(): string[] {
    return this.lesson.docs[this.lang].panes.map((p) => p.name);
  }

  waitPrompts() {
    return waitPrompts(this.page, this.panes);
  }

  screen(pane: string) {
    return screen(this.page, pane);
  }

  /** Run a command in a pane as a learner would, and wait for the next prompt. */
  run(pane: string, command: string, { wait = true } = {}) {
    return run(this.page, pane, command, { wait, send: () => this.send(pane, command) });
  }

  /** Click the lesson's Run button for exactly this command, or type it when there is none. */
  private async send(pane: string, command: string) {
    const button = this.page.locator(`.codeblock[data-run-block="${pane}"]`).filter({ has: this.page.locator('code', { hasText: command }) });
    for (const b of await button.all()) {
      // A block inside a closed "deeper" section is not what a learner clicks.
      if (!(await b.isVisible())) continue;
      if ((await b.locator('code').textContent())?.trim() === command) {
        await b.locator('[data-action="run"]').click();
        this.runClicks++;
        return;
      }
    }
    await typeCommand(this.page, pane, command);
  }

  /** Wait until the pane's screen matches; returns the match. */
  expectScreen(pane: string, re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    return expectScreen(this.page, pane, re, timeoutMs);
  }

  async taskStatuses(): Promise<Record<string, string>> {
    return this.page.evaluate(() =>
      Object.fromEntries([...document.querySelectorAll<HTMLElement>('[data-task]')].map((e) => [e.dataset.task!, e.dataset.status!])),
    );
  }

  /** The inodes of one namespace type that the shells of the host and container panes are in. */
  async pictureInodes(type: string): Promise<{ host?: string; container?: string }> {
    // (No named helper inside: tsx would wrap it in __name(), which the page does not have.)
    return this.page.evaluate((t) => {
      const row = document.querySelector(`[data-testid="ns-graph"] [data-ns-row="${t}"]`);
      return {
        host: row?.querySelector<HTMLElement>('[data-shells~="host"]')?.dataset.inode,
        container: row?.querySelector<HTMLElement>('[data-shells~="container"]')?.dataset.inode,
      };
    }, type);
  }
}

/**
 * Each lesson's main experiment, as its text asks the learner to do it: the commands are the
 * lesson's own click-to-run blocks (clicked when the page has them, typed otherwise).
 */
const EXPERIMENTS: Record<string, (l: LessonPage) => Promise<void>> = {
  async uts(l) {
    await l.run('container', 'hostname -b bird');
    await l.run('container', 'hostname');
    await l.expectScreen('container', /^bird$/m);
    await l.run('host', 'hostname');
    assert.doesNotMatch(await l.screen('host'), /^bird$/m, 'the host keeps its name');
    // setns() from the host: nsenter into the container's UTS namespace.
    await l.run('host', `CPID=$(lsns -t uts -n -o PID,COMMAND | awk '/bash/ {print $1}'); echo $CPID`);
    await l.expectScreen('host', /^\d+$/m);
    await l.run('host', 'nsenter --target $CPID --uts hostname');
    await l.expectScreen('host', /^bird$/m);
    await l.run('host', 'nsenter --target $CPID --uts domainname nest');
    await l.run('container', 'domainname');
    await l.expectScreen('container', /^nest$/m);
  },
  async ipc(l) {
    await l.run('host', 'ipcmk -Q');
    await l.expectScreen('host', /Message queue id: \d+/);
    await l.run('host', 'ipcs -q');
    await l.run('container', 'ipcs -q');
    await l.run('container', 'ipcmk -Q');
    await l.expectScreen('container', /Message queue id: 0/);
    await l.run('container', 'ipcs -q');
    await l.run('host', 'ipcs -q');
  },
  async pid(l) {
    await l.run('container', 'echo $$');
    await l.expectScreen('container', /^1$/m);
    await l.run('container', 'sleep 1000 &');
    await l.run('host', "pgrep -af 'sleep 1000'");
    await l.run('host', "grep NSpid /proc/$(pgrep -f 'sleep 1000')/status");
    await l.expectScreen('host', /^NSpid:\s+\d+\s+\d+$/m);
  },
  async mount(l) {
    await l.run('container', 'mount -t proc proc /proc');
    await l.run('container', 'ps -ef');
    await l.run('container', 'mkdir -p /tmp/box && mount -t tmpfs box /tmp/box && echo hello > /tmp/box/secret');
    await l.run('container', 'ls /tmp/box');
    await l.expectScreen('container', /^secret$/m);
    await l.run('host', 'ls /tmp/box');
    // setns() from the host: a mount made in the container's mount namespace through nsenter.
    await l.run('host', `CPID=$(lsns -t mnt -n -o PID,COMMAND | awk '/bash/ {print $1}'); echo $CPID`);
    await l.expectScreen('host', /^\d+$/m);
    await l.run('host', 'nsenter --target $CPID --pid --mount ps -ef');
    await l.run('host', 'mkdir -p /tmp/drop');
    await l.run('host', 'nsenter --target $CPID --mount mount -t tmpfs from-host /tmp/drop');
    await l.run('container', 'findmnt /tmp/drop');
    await l.expectScreen('container', /^\/tmp\/drop\s+from-host\s+tmpfs/m);
  },
  async net(l) {
    await l.run('container', 'ip link set lo up');
    await l.run('container', 'ping -c 1 127.0.0.1');
    await l.expectScreen('container', /1 received/);
    await l.run('container', 'echo $$');
    await l.run('host', `CPID=$(lsns -t net -n -o PID,COMMAND | awk '/bash/ {print $1}'); echo $CPID`);
    await l.expectScreen('host', /^\d+$/m);
    await l.run('host', 'ip link add veth0 type veth peer name veth1');
    await l.run('host', 'ip link set veth1 netns $CPID');
    await l.run('host', 'ip addr add 10.1.1.1/24 dev veth0');
    await l.run('host', 'ip link set veth0 up');
    await l.run('container', 'ip addr add 10.1.1.2/24 dev veth1');
    await l.run('container', 'ip link set veth1 up');
    await l.run('container', 'ip -br addr');
    await l.run('host', 'ping -c 3 10.1.1.2');
    await l.expectScreen('host', /3 received/);
    await l.run('container', 'ping -c 3 10.1.1.1');
    await l.expectScreen('container', /3 received/);
  },
  async user(l) {
    await l.run('container', 'touch /tmp/mine');
    await l.run('container', 'ls -ln /tmp/mine');
    await l.run('host', 'ls -ln /tmp/mine');
    await l.expectScreen('host', /^\S+\s+\d+\s+1000\s+\d+\s.*\/tmp\/mine$/m);
    await l.run('host', 'touch /tmp/theirs');
    await l.run('container', 'ls -l /tmp/theirs');
    await l.expectScreen('container', /nobody.*\/tmp\/theirs$/m);
  },
  async cgroup(l) {
    await l.run('container', 'cat /proc/self/cgroup');
    await l.run('container', 'sleep 1000 &');
    await l.run('container', 'cat /proc/$!/cgroup');
    await l.run('host', "cat /proc/$(pgrep -f 'sleep 1000')/cgroup");
    await l.expectScreen('host', /pane-container/);
  },
  async time(l) {
    await l.run('container', 'cat /proc/uptime');
    await l.run('host', 'cat /proc/uptime');
    const up = async (pane: string) => Number((await l.expectScreen(pane, /^(\d+)\.\d+ \d+\.\d+$/m))[1]);
    assert.ok((await up('container')) >= (await up('host')) + 604_000, 'the container is a week ahead in uptime');
    await l.run('host', 'unshare --time --boottime 86400 sleep 1000 &');
    await l.run('host', 'cat /proc/$!/timens_offsets');
    await l.expectScreen('host', /^boottime\s+86400\s+0$/m);
    await l.run('host', `CPID=$(lsns -t time -n -o PID,COMMAND | awk '/bash/ {print $1}'); echo $CPID`);
    await l.expectScreen('host', /^\d+$/m);
    await l.run('host', 'nsenter --target $CPID --time sleep 2000 &');
  },
  async container(l) {
    // The learner builds the container with the lesson's commands, in order; each step needs the last.
    for (const step of l.lesson.docs[l.lang].steps) for (const { pane, command } of clickToRun(step.markdown)) await l.run(pane, command);
    await l.expectScreen('host', /^max [1-9]\d*$/m);
  },
};

// ---- the tests ----

let served: Served;
let browser: Browser;
before(async () => {
  if (skip) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  served = await serve('nslablessons', { NSLAB_ID_BASE: '240000000' });
  browser = await launch();
});
after(async () => {
  if (skip) return;
  await browser?.close();
  await served?.stop();
});

function open(path: string, lang: Lang, viewport = LAPTOP): Promise<{ ctx: BrowserContext; page: Page }> {
  return openPage(browser, served.url + path, { viewport, locale: lang === 'zh' ? 'zh-CN' : 'en-US' });
}

test('every lesson can be done in the browser: tasks turn done, the picture shows the new namespaces', { skip }, async (t) => {
  assert.ok(LESSONS.length >= 9, 'nine lessons in content/lessons');
  for (const [i, lesson] of LESSONS.entries()) {
    const lang: Lang = i % 2 === 0 ? 'en' : 'zh';
    const doc = lesson.docs[lang];
    await t.test(`${lesson.id} (${lang})`, async () => {
      const experiment = EXPERIMENTS[lesson.id];
      assert.ok(experiment, `no experiment written for lesson "${lesson.id}": add one to EXPERIMENTS`);
      const viewport = i % 4 === 3 ? PHONE : LAPTOP;
      const { ctx, page } = await open(`/${lang}/lessons/${lesson.id}`, lang, viewport);
      const l = new LessonPage(page, lesson, lang);
      try {
        // The page is the lesson as its file says, in its language.
        assert.equal(await page.locator('html').getAttribute('lang'), lang === 'zh' ? 'zh-CN' : 'en');
        assert.equal((await page.locator('h1').first().textContent())?.trim(), doc.title);
        const shown = await l.taskStatuses();
        assert.deepEqual(
          Object.keys(shown).sort(),
          doc.tasks.map((x) => x.id).sort(),
          'the page lists the tasks of the content file (rebuild the web app if they differ)',
        );
        for (const task of doc.tasks) {
          assert.equal((await page.locator(`[data-task="${task.id}"] .task-title`).textContent())?.trim(), task.title);
        }

        await l.waitPrompts();
        for (const pane of l.panes) assert.equal(await page.locator(`[data-pane="${pane}"] .xterm`).count(), 1, `pane ${pane} holds an xterm`);
        await experiment(l);

        const tasksDone = () => l.taskStatuses().then((s) => Object.values(s).every((v) => v === 'done'));
        await waitFor(`every task of ${lesson.id} done`, tasksDone, 20_000).catch(async (err) => {
          const screens = await Promise.all(l.panes.map(async (p) => `--- ${p} ---\n${await l.screen(p)}`));
          throw new Error(`${(err as Error).message}: ${JSON.stringify(await l.taskStatuses())}\n${screens.join('\n')}`);
        });

        // The picture: for each namespace type the lesson unshares, the two shells differ.
        const types = doc.panes.find((p) => p.name === 'container')!.unshare;
        // The container lesson's panes start in the lab's namespaces: the learner makes the new ones.
        const handMade = lesson.id === 'container';
        assert.ok(types.length > 0 || handMade);
        for (const type of types) {
          const inodes = await waitFor(`the picture's ${type} row`, async () => {
            const x = await l.pictureInodes(type);
            return x.host && x.container ? x : null;
          });
          assert.notEqual(inodes.host, inodes.container, `${type}: host and container shells are in different namespaces`);
        }
        if (types.includes('pid') || handMade) {
          // PID mapping: the container's shell is PID 1 of a child PID namespace, another PID in the lab.
          const mapped = await page.evaluate(() =>
            [...document.querySelectorAll<HTMLElement>('[data-testid="ns-graph"] [data-pid-ns][data-depth="1"] [data-nspid]')].map((e) => e.dataset.nspid),
          );
          assert.ok(
            mapped.some((m) => /^\d+ 1$/.test(m ?? '')),
            `a process is PID 1 in a child PID namespace: ${JSON.stringify(mapped)}`,
          );
        }

        await page.screenshot({ path: join(ARTIFACTS, `${lesson.id}-${lang}.png`) });

        // The course page counts the lesson's tasks as done (localStorage, this browser).
        await page.goto(`${served.url}/${lang}`);
        const progress = page.locator(`[data-lesson="${lesson.id}"] [data-progress]`);
        await waitFor('course progress', async () => (await progress.getAttribute('data-done')) === String(doc.tasks.length));
      } finally {
        await ctx.close();
      }
      if (l.runClicks) console.log(`# ${lesson.id}: ${l.runClicks} command(s) sent with the lesson's Run buttons`);
    });
  }
});

test('a Run button sends its command to its pane', { skip }, async (t) => {
  // Lessons mark click-to-run commands with ```sh pane=<name>; find the first harmless one.
  const harmless =
    /^(hostname|uname( -[a-z]+)?|id( -[ug])?|ls( [-\w/]+)?|echo [^;&|]*|cat \/proc\/[\w/]+|readlink \/proc\/[\w/$]+|ps( -[a-z]+)?|ip (-brief )?(link|addr)|ipcs( -[a-z])?|uptime|date)$/;
  // Outside "deeper" blocks, which start closed.
  const outsideDeeper = (md: string) => md.replace(/^:::deeper[^\n]*\n[\s\S]*?^:::\s*$/gm, '');
  const found = LESSONS.flatMap((lesson) =>
    lesson.docs.en.steps.flatMap((s) =>
      [...outsideDeeper(s.markdown).matchAll(/^```\S*[^\n]*\bpane=([a-z][a-z0-9-]*)[^\n]*\n([\s\S]*?)^```/gm)].map((m) => ({
        lesson,
        pane: m[1]!,
        command: m[2]!.trim(),
      })),
    ),
  ).find((x) => harmless.test(x.command));
  if (!found) {
    t.skip('no lesson has a harmless ```sh pane=... block yet');
    return;
  }
  const { ctx, page } = await open(`/en/lessons/${found.lesson.id}`, 'en');
  try {
    const l = new LessonPage(page, found.lesson, 'en');
    await l.waitPrompts();
    await l.run(found.pane, found.command);
    assert.equal(l.runClicks, 1, 'the Run button was clicked');
    assert.match(await l.screen(found.pane), new RegExp(`[#$] ${found.command.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  } finally {
    await ctx.close();
  }
});

test('switching the language keeps the lesson and its lab', { skip }, async () => {
  const lesson = LESSONS.find((x) => x.id === 'pid') ?? LESSONS[0]!;
  const { ctx, page } = await open(`/en/lessons/${lesson.id}`, 'en');
  try {
    const l = new LessonPage(page, lesson, 'en');
    await l.waitPrompts();
    await l.run('host', 'echo before-the-switch');
    const lab = await page.evaluate(() => window.__nslab?.lab);
    await page.click('[data-lang-switch="zh"]');
    await page.waitForURL(`**/zh/lessons/${lesson.id}`);
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    assert.equal((await page.locator('h1').first().textContent())?.trim(), lesson.docs.zh.title);
    const zh = new LessonPage(page, lesson, 'zh');
    await zh.waitPrompts();
    assert.equal(await page.evaluate(() => window.__nslab?.lab), lab, 'the same lab');
    // The agent replays the shell's latest output: what was typed before the switch is still there.
    await zh.expectScreen('host', /^before-the-switch$/m);
    await page.click('[data-lang-switch="en"]');
    await page.waitForURL(`**/en/lessons/${lesson.id}`);
  } finally {
    await ctx.close();
  }
});

test('/ redirects by Accept-Language', { skip }, async () => {
  const where = async (acceptLanguage?: string) => {
    const res = await fetch(served.url + '/', { redirect: 'manual', headers: acceptLanguage ? { 'accept-language': acceptLanguage } : {} });
    assert.ok([302, 303, 307, 308].includes(res.status), `a redirect, got ${res.status}`);
    return res.headers.get('location');
  };
  assert.equal(await where('zh-CN,zh;q=0.9,en;q=0.8'), '/zh');
  assert.equal(await where('en-US,en;q=0.9'), '/en');
  assert.equal(await where('fr-FR,fr;q=0.9,zh-TW;q=0.5'), '/zh');
  assert.equal(await where('de-DE'), '/en');
  assert.equal(await where(), '/en');
  for (const [locale, lang] of [
    ['zh-CN', 'zh'],
    ['en-GB', 'en'],
  ] as const) {
    const ctx = await browser.newContext({ locale });
    const page = await ctx.newPage();
    await page.goto(served.url + '/');
    assert.equal(new URL(page.url()).pathname, `/${lang}`, locale);
    for (const lesson of LESSONS) assert.equal(await page.locator(`[data-lesson="${lesson.id}"]`).count(), 1, `card ${lesson.id}`);
    await ctx.close();
  }
});

/** A second agent on the port the first one had (as after `systemctl restart`). */
async function agentOnPort(url: string): Promise<ChildProcess> {
  const port = new URL(url).port;
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'apps/agent/dist/main.cjs')], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: port, HOST: '127.0.0.1', NSLAB_INSTANCE: 'nslablessons', NSLAB_ID_BASE: '240000000', NSLAB_WARM_LABS: '1', LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  await waitFor('the restarted agent', async () => (await fetch(`${url}/healthz`).catch(() => null))?.ok, 60_000);
  return proc;
}

test('a shell that exits says so and restarts; paste; a lost agent is reported and the page comes back', { skip }, async () => {
  const lesson = LESSONS.find((x) => x.id === 'uts') ?? LESSONS[0]!;
  const { ctx, page } = await open(`/en/lessons/${lesson.id}`, 'en');
  let again: ChildProcess | undefined;
  try {
    const l = new LessonPage(page, lesson, 'en');
    await l.waitPrompts();
    await l.run('host', 'exit 3', { wait: false });
    const exit = page.locator('[data-pane="host"] .pane-exit');
    await exit.waitFor({ timeout: 10_000 });
    assert.match((await exit.textContent()) ?? '', /shell exited \(code 3\)/);
    await exit.getByRole('button', { name: 'Restart' }).click();
    await exit.waitFor({ state: 'detached', timeout: 10_000 });
    await waitFor('a new prompt after the restart', async () => (await cursor(page, 'host')).prompt);
    await l.run('host', 'echo back-again');
    await l.expectScreen('host', /^back-again$/m);

    // Ctrl+V pastes the clipboard (and is not sent to the shell as ^V).
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: served.url });
    await page.evaluate(() => navigator.clipboard.writeText('echo pasted-$((40+2))'));
    await page.click('[data-pane="host"] .pane-term');
    await page.keyboard.press('Control+v');
    await page.keyboard.press('Enter');
    await l.expectScreen('host', /^pasted-42$/m);
    assert.doesNotMatch(await l.screen('host'), /\^V/);

    // Search: Ctrl+F in a pane opens the search box.
    await page.keyboard.press('Control+f');
    await page.locator('[data-pane="host"] .pane-search input').waitFor({ timeout: 5000 });
    await page.keyboard.type('back-again');
    await page.keyboard.press('Escape');

    const lab = await page.evaluate(() => window.__nslab?.lab);
    await served.stop();
    await page.locator('[data-conn="unreachable"]').waitFor({ timeout: 15_000 });
    assert.match((await page.locator('[data-conn]').textContent()) ?? '', /unreachable, reconnecting/i);

    // The agent comes back (with new session keys and no labs): the page gets a new session
    // cookie, opens a new lab and attaches its panes, by itself.
    again = await agentOnPort(served.url);
    await page.locator('[data-conn="ready"]').waitFor({ timeout: 30_000 });
    await l.waitPrompts();
    assert.notEqual(await page.evaluate(() => window.__nslab?.lab), lab, 'a new lab');
    await l.run('container', 'hostname -b bird');
    await waitFor('the task done in the new lab', async () => (await l.taskStatuses())['set-hostname'] === 'done');
  } finally {
    await ctx.close();
    if (again && again.exitCode === null) {
      const exited = new Promise((r) => again!.once('exit', r));
      again.kill('SIGTERM');
      await exited;
    }
  }
});

// `nslab lessons serve DIR`: the agent with the web app on the lessons in DIR, watching them (a
// saved file shows in the pages), started through the real `nslab` command; SIGINT or SIGTERM
// stops it and leaves nothing running. Without root, or without a directory, it says why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { runCli } from '../../apps/agent/src/cli/run.ts';
import { lessonsServeCommand } from '../../apps/agent/src/cli/lessons-serve.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';
import { rootOrSkip } from '../helpers/env.ts';
import { freePort } from '../helpers/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { makeIO } from './streams.ts';

const skip = rootOrSkip('nslab lessons serve');
const INSTANCE = process.env.NSLAB_TEST_INSTANCE ?? 'nslabhd';
const ID_BASE = process.env.NSLAB_TEST_ID_BASE ?? '730000000';

/** Every process under `pid` (its children, theirs, ...), from /proc. */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of parents.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`serves DIR with watching on, and stops on ${signal} leaving nothing`, { skip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nslab-serve-'));
    const data = mkdtempSync(join(tmpdir(), 'nslab-serve-data-'));
    for (const lang of ['en', 'zh']) cpSync(join(REPO_ROOT, 'content/lessons', lang, 'uts.md'), join(dir, lang, 'uts.md'));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    let output = '';
    const cli = spawn(process.execPath, [join(REPO_ROOT, 'apps/agent/bin/nslab.cjs'), 'lessons', 'serve', dir, '--no-build'], {
      cwd: tmpdir(),
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        NSLAB_INSTANCE: INSTANCE,
        NSLAB_ID_BASE: ID_BASE,
        NSLAB_DATA_DIR: data,
        NSLAB_TOKEN: `serve-${randomBytes(12).toString('hex')}`,
        NSLAB_WARM_LABS: '0',
        NSLAB_CONFIG: '',
        NSLAB_DATABASE_URL: '',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    cli.stdout!.on('data', (d) => (output += d));
    cli.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((r) => cli.once('exit', (code, sig) => r({ code, sig })));
    let agents: number[] = [];
    try {
      await waitFor(
        'the agent to answer',
        async () => {
          if (cli.exitCode !== null) throw new Error(`nslab lessons serve exited (${cli.exitCode}):\n${output}`);
          return fetch(`${url}/healthz`).then(
            (r) => r.ok,
            () => false,
          );
        },
        60_000,
      );
      agents = descendants(cli.pid!);
      assert.ok(agents.length >= 1, 'an agent under the command');
      // The lessons of DIR, not the shipped ones.
      const course = await (await fetch(`${url}/en`)).text();
      assert.match(course, /data-lesson="uts"/);
      assert.doesNotMatch(course, /data-lesson="pid"/);
      // Watching: a new title shows in the page.
      const title = `A title written at ${Date.now()}`;
      for (const lang of ['en', 'zh']) {
        const file = join(dir, lang, 'uts.md');
        writeFileSync(file, readFileSync(file, 'utf8').replace(/^title: .*$/m, `title: "${title}"`));
      }
      await waitFor('the new title', async () => (await (await fetch(`${url}/en/lessons/uts`)).text()).includes(title), 15_000);
      assert.match(output, /serving the lessons in .*reloaded when they change/);

      cli.kill(signal);
      const end = await exited;
      assert.ok(end.code === 0 || end.code === 128 + (signal === 'SIGINT' ? 2 : 15), `exit ${JSON.stringify(end)}\n${output}`);
      // Nothing left: not the agent, not its children, not its port.
      await waitFor('every process of the agent gone', async () => agents.every((p) => !alive(p)), 20_000);
      const answered = await fetch(`${url}/healthz`).then(
        () => true,
        () => false,
      );
      assert.equal(answered, false);
    } finally {
      if (cli.exitCode === null) cli.kill('SIGKILL');
      for (const p of agents) if (alive(p)) process.kill(p, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      rmSync(data, { recursive: true, force: true });
    }
  });
}

test('without root, without a directory, or with a wrong one, it says why', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nslab-serve-'));
  try {
    const io = makeIO({ env: { ...process.env } });
    await assert.rejects(
      lessonsServeCommand({ kind: 'lessons', action: 'serve', dirs: [dir], noBuild: true }, io, { uid: 1000 }),
      /needs root; run it with sudo/,
    );
    const none = makeIO({ env: { ...process.env } });
    assert.equal(await runCli(['lessons', 'serve'], { ...none, tokenFile: '/nonexistent' }), 2);
    assert.match(none.stderr.text(), /lessons serve: which lessons\?/);
    const wrong = makeIO({ env: { ...process.env } });
    assert.equal(await runCli(['lessons', 'serve', join(dir, 'nosuch')], { ...wrong, tokenFile: '/nonexistent' }), 1);
    assert.match(wrong.stderr.text(), /nosuch is not a directory/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

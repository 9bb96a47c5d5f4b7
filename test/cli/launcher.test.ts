// The nslab command as a real process: the launcher (apps/agent/bin/nslab.cjs) and the esbuild
// bundle of apps/agent/src/cli/main.ts, against a fake agent, through real pipes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import { FakeAgent } from './fake-agent.ts';

/** No test may hang: a missed event fails it instead. */
const T = { timeout: 30000 };

const ROOT = resolve(import.meta.dirname, '..', '..');
const LAUNCHER = join(ROOT, 'apps', 'agent', 'bin', 'nslab.cjs');
const ENTRY = join(ROOT, 'apps', 'agent', 'src', 'cli', 'main.ts');

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/** This process's environment without any NSLAB_* settings of whoever runs the tests. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('NSLAB_')) delete env[key];
  return env;
}

function runProcess(args: string[], env: Record<string, string>, input?: Buffer | string): Promise<Ran> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: tmpdir(), // not the repo root: the launcher must find its files itself
      env: { ...cleanEnv(), ...env },
      stdio: 'pipe',
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
    child.stdin.end(input ?? '');
  });
}

describe('the nslab command as a process', () => {
  let agent: FakeAgent;
  let tmp: string;
  let bundle: string;
  let env: Record<string, string>;

  before(async () => {
    agent = await FakeAgent.start();
    agent.addLab('uts', 'proclab01');
    env = { NSLAB_URL: agent.url, NSLAB_TOKEN: 'secret-token' };
    tmp = await mkdtemp(join(tmpdir(), 'nslab-bundle-'));
    bundle = join(tmp, 'cli.cjs');
    const result = await build({ entryPoints: [ENTRY], bundle: true, platform: 'node', format: 'cjs', outfile: bundle, logLevel: 'silent' });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(
      result.warnings.map((w) => w.text),
      [],
      'the CLI bundles without warnings',
    );
    // Copies of the launcher in two layouts, so both of its branches are tested whatever the
    // repository's own apps/agent/dist holds: next to a built bundle, and next to the sources only.
    await mkdir(join(tmp, 'built', 'bin'), { recursive: true });
    await mkdir(join(tmp, 'built', 'dist'), { recursive: true });
    await copyFile(LAUNCHER, join(tmp, 'built', 'bin', 'nslab.cjs'));
    await copyFile(bundle, join(tmp, 'built', 'dist', 'cli.cjs'));
    await mkdir(join(tmp, 'source', 'bin'), { recursive: true });
    await mkdir(join(tmp, 'source', 'src'), { recursive: true });
    await copyFile(LAUNCHER, join(tmp, 'source', 'bin', 'nslab.cjs'));
    await symlink(join(ROOT, 'apps', 'agent', 'src', 'cli'), join(tmp, 'source', 'src', 'cli'));
    await symlink(join(ROOT, 'node_modules'), join(tmp, 'source', 'node_modules'));
  });
  after(async () => {
    await agent.close();
    await rm(tmp, { recursive: true, force: true });
  });

  test('the launcher is executable', () => {
    accessSync(LAUNCHER, fsConstants.X_OK);
  });

  const variants = {
    bundle: () => bundle,
    'launcher (repo)': () => LAUNCHER,
    'launcher (with dist/cli.cjs)': () => join(tmp, 'built', 'bin', 'nslab.cjs'),
    'launcher (sources via tsx)': () => join(tmp, 'source', 'bin', 'nslab.cjs'),
  };
  for (const [which, script] of Object.entries(variants)) {
    const argv = (args: string[]): string[] => [script(), ...args];

    test(`${which}: --help exits 0 with the usage`, T, async () => {
      const r = await runProcess(argv(['--help']), env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.toString(), /nslab exec <lab> <pane> -- <cmd>/);
    });

    test(`${which}: a usage error exits 2`, T, async () => {
      const r = await runProcess(argv(['bogus']), env);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^nslab: unknown command 'bogus'/);
    });

    test(`${which}: exec passes bytes and the exit code through real pipes`, T, async () => {
      const r = await runProcess(argv(['exec', 'proclab01', 'host', '--', 'bytes']), env);
      assert.equal(r.code, 3, r.stderr);
      assert.deepEqual([...r.stdout], [0x00, 0xff, 0xfe, 0x41, 0x0a, 0x80]);
      assert.equal(r.stderr, 'warning: \u00e9\n');
    });

    test(`${which}: exec sends piped stdin and exits 128+signal`, T, async () => {
      const r = await runProcess(argv(['exec', 'proclab01', 'host', '--', 'cat']), env, Buffer.from('piped\x00data'));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString('latin1'), 'piped\x00data');
      const k = await runProcess(argv(['exec', 'proclab01', 'host', '--', 'kill']), env);
      assert.equal(k.code, 137);
    });

    test(`${which}: lessons output arrives complete before the process exits`, T, async () => {
      const r = await runProcess(argv(['lessons']), env);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString().trimEnd().split('\n').length, 9);
    });

    test(`${which}: agent not running`, T, async () => {
      const r = await runProcess(argv(['ls']), { NSLAB_URL: 'http://127.0.0.1:1', NSLAB_TOKEN: 'x' });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^nslab: the agent is not running at http:\/\/127\.0\.0\.1:1 .*npm start/);
    });
  }

  test('importing main.ts does not run the CLI', T, async () => {
    const before = process.exitCode;
    const mod = await import('../../apps/agent/src/cli/main.ts');
    assert.equal(typeof mod.runCli, 'function');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(process.exitCode, before);
  });
});

// Processes the bench and the soak harness start: an agent (the bundled main.cjs, with an
// instance name and id range of its own) and the peer server. Each is started with
// bench-deathsig.cjs preloaded, so it dies with the harness even when the harness is killed
// with SIGKILL: no agent, and so no lab, outlives a run.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { WS_PATH } from '@nslab/shared';
import { AgentClient } from '../cli/client.js';
import { locateBundle } from '../paths.js';

export interface Child {
  proc: ChildProcess;
  /** SIGTERM, then SIGKILL after `graceMs` (default 20 s); resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  /** Has it exited (by itself or stopped)? */
  readonly exited: boolean;
  /** The last lines it printed (stdout and stderr), for reports. */
  tail(): string;
  /** Every line it prints from now on. */
  onLine(fn: (line: string) => void): void;
}

/** Children still running: stopped by stopAllChildren() whatever happened to the run. */
const live = new Set<Child>();

export async function stopAllChildren() {
  await Promise.allSettled([...live].map((c) => c.stop(5_000)));
}

/** Start a bundle; resolve with the first stdout text that `match` accepts. */
export function startChild(
  bundle: string,
  env: NodeJS.ProcessEnv,
  match: RegExp,
  what: string,
  nodeArgs: string[] = [],
): Promise<{ child: Child; m: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    // A bundle of the agent's by name, or any bundle by its absolute path (the router's).
    const file = bundle.startsWith('/') ? bundle : locateBundle(bundle);
    const proc = spawn(process.execPath, ['--require', locateBundle('bench-deathsig.cjs'), ...nodeArgs, file], {
      env: { ...env, NSLAB_HARNESS_PID: String(process.pid) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let recent: string[] = [];
    let partial = '';
    const lineListeners: Array<(line: string) => void> = [];
    let settled = false;
    let hasExited = false;
    const exited = new Promise<void>((r) =>
      proc.once('exit', () => {
        hasExited = true;
        live.delete(child);
        r();
      }),
    );
    const onText = (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        recent.push(l);
        for (const fn of lineListeners) fn(l);
      }
      if (recent.length > 400) recent = recent.slice(-200);
    };
    const child: Child = {
      proc,
      get exited() {
        return hasExited;
      },
      tail: () => [...recent, partial].join('\n').slice(-4000),
      onLine: (fn) => lineListeners.push(fn),
      stop: async (graceMs = 20_000) => {
        if (hasExited) return;
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(t);
      },
    };
    live.add(child);
    const timer = setTimeout(() => fail(new Error(`${what} did not start within 30 s: ${child.tail()}`)), 30_000);
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(e);
    };
    proc.stderr!.on('data', onText);
    proc.stdout!.on('data', (d: Buffer) => {
      onText(d);
      if (settled) return;
      out += d.toString();
      const m = match.exec(out);
      if (!m) return;
      settled = true;
      clearTimeout(timer);
      resolve({ child, m });
    });
    proc.once('exit', (code, sig) => fail(new Error(`${what} exited (${code ?? sig}) before it was ready: ${child.tail()}`)));
  });
}

export interface ChildAgent extends Child {
  pid: number;
  url: string;
  token: string;
  connect(): Promise<AgentClient>;
}

/** The bench's own agent settings: instance `nslabbench`, ids from 400,000,000 (far from the tests'). */
export const BENCH_AGENT_ENV = {
  NSLAB_INSTANCE: 'nslabbench',
  NSLAB_STATE_DIR: '/run/nslabbench',
  NSLAB_ID_BASE: '400000000',
};

/** The agent as a child process (its own event loop and memory), `extraEnv` on top of the bench's settings. */
export async function startChildAgent(profileDir?: string, extraEnv: Record<string, string> = {}): Promise<ChildAgent> {
  const token = randomBytes(24).toString('hex');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...BENCH_AGENT_ENV,
    NSLAB_MAX_LABS: '16',
    NSLAB_WARM_LABS: '0',
    NSLAB_WEB: '0',
    NSLAB_TOKEN: token,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  const nodeArgs = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const { child, m } = await startChild('main.cjs', env, /running at (http:\/\/[^\s]+)/, 'the agent', nodeArgs);
  const url = m[1]!;
  const wsUrl = url.replace(/^http/, 'ws') + WS_PATH;
  return Object.assign(child, {
    pid: child.proc.pid!,
    url,
    token,
    connect: () => AgentClient.connect({ wsUrl, displayUrl: url, token }),
  });
}

export async function startPeer(): Promise<Child & { url: string }> {
  const { child, m } = await startChild('bench-peer.cjs', process.env, /\{"port":(\d+)\}/, 'the peer server');
  return Object.assign(child, { url: `ws://127.0.0.1:${m[1]}/` });
}

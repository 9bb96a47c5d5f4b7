// The real thing, as `npm start` runs it: the bundled agent with the built web app, in its own
// process, on a free port. For end-to-end tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';

export interface Served {
  url: string;
  token: string;
  proc: ChildProcess;
  stop(): Promise<void>;
  /** From now on, print the agent's last output should it exit before stop() (for a test that does not mean it to). */
  reportUnexpectedExit(): void;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

export async function serve(instance = 'nslabe2e', env: Record<string, string> = {}): Promise<Served> {
  const port = await freePort();
  const token = `e2e-${randomBytes(16).toString('hex')}`;
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'apps/agent/dist/main.cjs')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      NSLAB_INSTANCE: instance,
      NSLAB_ID_BASE: '230000000',
      NSLAB_TOKEN: token,
      NSLAB_WARM_LABS: '1',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  // The agent's latest words (its log is at warn level): for a start that fails, or a test's end.
  const keep = (d: Buffer) => (output = (output + d).slice(-65_536));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`the agent exited (${proc.exitCode}):\n${output}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`the agent did not answer within 60 s:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  let stopping = false;
  return {
    url,
    token,
    proc,
    reportUnexpectedExit() {
      proc.once('exit', (code, signal) => {
        if (!stopping) console.error(`# the agent exited (code ${code}, signal ${signal}):\n${output.slice(-20_000)}`);
      });
    },
    async stop() {
      stopping = true;
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

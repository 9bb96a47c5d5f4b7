// The agent's handle on its spawner process: starts it, sends requests, routes replies and events.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { SpawnerReply, type LabSpec, type SpawnSpecInput } from '../spawner/protocol.js';
import { locateBundle } from '../paths.js';

export class SpawnError extends Error {
  constructor(
    message: string,
    readonly step?: string,
    readonly code?: string,
  ) {
    super(step ? `${message} (while: ${step})` : message);
    this.name = 'SpawnError';
  }
}

type Pending = { resolve: (v: { anchorPid?: number; initPid?: number; pid?: number }) => void; reject: (e: Error) => void };

export interface SpawnerEvents {
  exit: [pid: number, exitCode: number | null, signal: number | null];
  out: [pid: number, fd: 1 | 2, data: Buffer];
  eof: [pid: number, fd: 1 | 2, truncated: boolean];
  log: [level: string, msg: string];
  died: [reason: string];
}

export class SpawnerClient extends EventEmitter<SpawnerEvents> {
  private proc: ChildProcess | null = null;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private alive = false;

  /** Start the spawner and wait until it answers. */
  async start(): Promise<void> {
    const bundle = locateBundle('spawner.cjs');
    if (!existsSync(bundle)) throw new Error(`the spawner bundle is missing (${bundle}); run \`npm run build\``);
    const proc = spawn(process.execPath, ['--single-threaded', '--jitless', '--no-expose-wasm', '--max-old-space-size=64', bundle], {
      stdio: ['pipe', 'pipe', 'inherit'],
      // A bare environment: the spawner's memory is copied into every child it forks, and a
      // process inside a lab is briefly a copy of it; no secret of the agent's belongs there.
      env: {
        NODE_ENV: 'production',
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        NSLAB_AGENT_PID: String(process.pid),
        ...(process.env.NSLAB_TRACE_STEPS ? { NSLAB_TRACE_STEPS: process.env.NSLAB_TRACE_STEPS } : {}),
        ...(process.env.NSLAB_SPAWN_TIMEOUT_MS ? { NSLAB_SPAWN_TIMEOUT_MS: process.env.NSLAB_SPAWN_TIMEOUT_MS } : {}),
      },
    });
    this.proc = proc;
    this.alive = true;
    const rl = createInterface({ input: proc.stdout! });
    rl.on('line', (line) => this.onLine(line));
    proc.on('exit', (code, signal) => {
      this.alive = false;
      const reason = `the spawner exited (${signal ?? code})`;
      for (const p of this.pending.values()) p.reject(new SpawnError(reason));
      this.pending.clear();
      this.emit('died', reason);
    });
    proc.stdin!.on('error', () => {});
    await this.request({ op: 'ping' });
  }

  /** The running spawner's pid; undefined before it starts and once it has died. */
  get pid(): number | undefined {
    return this.alive ? this.proc?.pid : undefined;
  }

  makeLab(spec: LabSpec): Promise<{ anchorPid: number; initPid: number }> {
    return this.request({ op: 'lab', spec }) as Promise<{ anchorPid: number; initPid: number }>;
  }

  spawn(spec: SpawnSpecInput): Promise<number> {
    return this.request({ op: 'spawn', spec }).then((r) => r.pid!);
  }

  /** A lab is closing: the spawner kills the joiners it forked ahead into these cgroups. */
  async forget(cgroupDirs: string[]): Promise<void> {
    await this.request({ op: 'forget', cgroupDirs });
  }

  /** Signal a process the spawner started (through its pidfd); any other pid is refused. */
  async kill(pid: number, signal: number): Promise<void> {
    await this.request({ op: 'kill', pid, signal });
  }

  /** Ask the spawner to exit (it reaps what it still parents first); kill it if it does not. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.alive) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.stdin!.end();
    const timer = setTimeout(() => proc.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }

  private request(body: Record<string, unknown>): Promise<{ anchorPid?: number; initPid?: number; pid?: number }> {
    if (!this.proc || !this.alive) return Promise.reject(new SpawnError('the spawner is not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.proc!.stdin!.write(JSON.stringify({ id, ...body }) + '\n');
    });
  }

  private onLine(line: string) {
    let msg: SpawnerReply;
    try {
      msg = SpawnerReply.parse(JSON.parse(line));
    } catch {
      this.emit('log', 'error', `unreadable spawner message: ${line.slice(0, 200)}`);
      return;
    }
    if ('ev' in msg) {
      switch (msg.ev) {
        case 'exit':
          this.emit('exit', msg.pid, msg.exitCode, msg.signal);
          break;
        case 'out':
          this.emit('out', msg.pid, msg.fd, Buffer.from(msg.data, 'base64'));
          break;
        case 'eof':
          this.emit('eof', msg.pid, msg.fd, msg.truncated === true);
          break;
        case 'log':
          this.emit('log', msg.level, msg.msg);
          break;
      }
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg);
    else p.reject(new SpawnError(msg.error, msg.step, msg.code));
  }
}

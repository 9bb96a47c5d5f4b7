// The child side of a fork: an explicit, ordered list of named steps, each checked. A failure is
// written to the report pipe as one JSON line naming the step, then the child exits; it never
// returns into the spawner's event loop.
import { sys } from '../native/sys.js';
import { SyscallError } from '../native/errors.js';
import { SIG } from '../native/constants.js';

export class Reporter {
  constructor(private readonly fd: number) {}
  send(msg: Record<string, unknown>) {
    // One line under PIPE_BUF is written atomically even with several writers.
    sys.writeRaw(this.fd, Buffer.from(JSON.stringify(msg).slice(0, 3800) + '\n'));
  }
}

const TRACE = process.env.NSLAB_TRACE_STEPS === '1';

export class Sequence {
  private current = 'start';
  private times: Array<[string, number]> = [];
  constructor(readonly report: Reporter) {}

  step(name: string, fn: () => void) {
    this.current = name;
    if (!TRACE) return fn();
    const t0 = performance.now();
    fn();
    this.times.push([name, Math.round((performance.now() - t0) * 100) / 100]);
    // Sent before the step that execs (it would never return to send it).
    if (name.startsWith('exec') || name.startsWith('fork')) this.flushTrace();
  }

  private flushTrace() {
    if (this.times.length) this.report.send({ t: 'trace', pid: process.pid, steps: this.times });
    this.times = [];
  }

  /** Run the body; on any error report it and exit. The body must end in exec or exit. */
  run(body: (s: Sequence) => void): never {
    try {
      body(this);
      return sys.exit(0);
    } catch (err) {
      const e = err as Error;
      this.report.send({
        t: 'err',
        step: this.current,
        msg: e?.message ?? String(err),
        code: err instanceof SyscallError ? err.code : undefined,
      });
      return sys.exit(126);
    }
  }
}

/**
 * Fork; run `body` in the child (which never returns); give the parent the child's pid.
 * `hostProc`: the host's /proc held open, for callers whose /proc is no longer the host's
 * (after joining a lab's mount namespace).
 */
export function forkInto(body: () => void, hostProc?: number): number {
  sys.markAllDoFork(hostProc);
  const pid = sys.fork();
  if (pid === 0) {
    try {
      body();
    } finally {
      sys.exit(127);
    }
  }
  return pid;
}

/** Signals back to their defaults and none blocked: what a freshly exec'd program expects. */
export function resetSignals() {
  for (let sig = 1; sig < 32; sig++) {
    if (sig === SIG.KILL || sig === SIG.STOP) continue;
    sys.setSignalDefault(sig);
  }
  sys.unblockAllSignals();
}

/** Move the calling process into each cgroup (a cgroup.procs path per hierarchy). */
export function joinCgroups(procsFiles: string[]) {
  for (const file of procsFiles) {
    const fd = sys.open(file, 1 /* O_WRONLY */);
    try {
      sys.write(fd, Buffer.from('0'), file);
    } finally {
      sys.close(fd);
    }
  }
}

/** Write `text` in one write(2) (id maps must arrive whole); relative to `dirfd` when given. */
export function writeFile(path: string, text: string, dirfd?: number) {
  const fd = dirfd === undefined ? sys.open(path, 1 /* O_WRONLY */) : sys.openat(dirfd, path, 1 /* O_WRONLY */);
  try {
    sys.write(fd, Buffer.from(text), path);
  } finally {
    sys.close(fd);
  }
}

export function timeOffsetsText(o: { monotonic: number; boottime: number }): string {
  return `monotonic ${o.monotonic} 0\nboottime ${o.boottime} 0\n`;
}

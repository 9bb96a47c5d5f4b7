// The child side of a fork: an explicit, ordered list of named steps, each checked. A failure is
// written to the report pipe as one JSON line naming the step, then the child exits; it never
// returns into the spawner's event loop.
import { sys, MESSAGE_BYTES } from '../native/sys.js';
import { SyscallError } from '../native/errors.js';
import { O, PR, SIG } from '../native/constants.js';

/** Reports from a child to the spawner: one message per report on a SOCK_SEQPACKET socket. */
export class Reporter {
  constructor(readonly fd: number) {}
  /** `passFd`: a descriptor the spawner receives with the report (the pidfd of a started process). */
  send(msg: Record<string, unknown>, passFd?: number) {
    let text = JSON.stringify(msg);
    if (text.length > MESSAGE_BYTES - 64) text = JSON.stringify({ ...msg, msg: String(msg.msg ?? '').slice(0, 2000), steps: undefined });
    sys.sendMessage(this.fd, Buffer.from(text), passFd);
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
    if (this.times.length) this.report.send({ t: 'trace', steps: this.times });
    this.times = [];
  }

  /** Run the body; on any error report it and exit. The body must end in exec or exit. */
  run(body: (s: Sequence) => void): never {
    try {
      body(this);
      return sys.exit(0);
    } catch (err) {
      const e = err as Error;
      try {
        this.report.send({
          t: 'err',
          step: this.current,
          msg: e?.message ?? String(err),
          code: err instanceof SyscallError ? err.code : undefined,
        });
      } catch {
        /* the spawner is gone: nobody to tell */
      }
      return sys.exit(126);
    }
  }
}

/**
 * Descriptors of the Node runtime itself (libuv's epoll, wakeup and signal descriptors), open
 * before the spawner took any request: a forked child still runs on that runtime until its exec,
 * and libuv writes to them (a wakeup, its atfork handler); closing them would make it abort, or
 * write into whatever descriptor took their number. They never refer to anything of a lab's.
 */
let runtimeFds: number[] = [];
export function setRuntimeFds(fds: number[]) {
  runtimeFds = fds.filter((fd) => fd > 2);
}

/** Fork; run `body` in the child (which never returns); give the parent the child's pid. */
export function forkInto(body: () => void): number {
  sys.markAllDoFork();
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

/**
 * The first step of every forked child: let go of everything it inherited that it was not given.
 * The spawner's signal handlers (libuv's write to descriptors this step closes) go back to their
 * defaults, with SIGPIPE still ignored until exec; stdin, stdout and stderr (the channel to the
 * agent and its log) become /dev/null; every other descriptor but `keep` and the runtime's own
 * is closed, not merely marked close-on-exec: other labs' pipes and stdin, pidfds, sockets. From
 * here the child holds nothing of another request's but its own memory, which nobody in a lab
 * can read while the process is not dumpable.
 */
export function letGo(keep: number[], name = 'nslab-setup') {
  resetSignals(true);
  const devnull = sys.open('/dev/null', O.RDWR | O.CLOEXEC);
  for (const fd of [0, 1, 2]) sys.dup2(devnull, fd);
  sys.closeAllExcept([...keep, ...runtimeFds]);
  sys.setName(name);
}

/**
 * Before the first fork into a lab: the runtime's descriptors become /dev/null. This process
 * (outside the lab's PID namespace) may still run on the runtime, whose writes then go nowhere;
 * its children in the lab inherit nothing of the spawner's event loop. Those children are not
 * dumpable, but the kernel lets a same-uid process look at another's descriptors while it execs
 * (the new image is dumpable before close-on-exec runs) and while it exits (its memory is gone
 * before its files): whatever a lab process holds must be harmless to hand over.
 */
export function hideRuntime() {
  if (!runtimeFds.length) return;
  const devnull = sys.open('/dev/null', O.RDWR | O.CLOEXEC);
  for (const fd of runtimeFds) sys.dup2(devnull, fd);
  sys.close(devnull);
}

/** Replace one descriptor by /dev/null (its number stays taken). */
export function nullify(fd: number) {
  const devnull = sys.open('/dev/null', O.RDWR | O.CLOEXEC);
  sys.dup2(devnull, fd);
  sys.close(devnull);
}

/** Make this process (and what it forks) unreadable and untraceable from a user namespace. */
export function outOfReach() {
  sys.prctl('PR_SET_DUMPABLE 0', PR.SET_DUMPABLE, 0);
}

/** Signals back to their defaults and none blocked: what a freshly exec'd program expects. */
export function resetSignals(keepPipeIgnored = false) {
  for (let sig = 1; sig < 32; sig++) {
    if (sig === SIG.KILL || sig === SIG.STOP) continue;
    sys.setSignalDefault(sig, keepPipeIgnored && sig === SIG.PIPE);
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

// The spawner: a small single-threaded, JIT-less Node process owned by the agent. It forks
// through koffi (a multithreaded process cannot fork safely, and V8's JIT code pages do not
// survive fork) and runs the fixed sequences in lab-init.ts and join.ts in the children.
// Requests arrive as JSON lines on stdin; replies and events leave as JSON lines on stdout.
//
// What it trusts: only the agent's requests. Children report on a socket of their own, and a
// started process is reported by a pidfd passed with the report, never by a number a child
// wrote: the spawner reads the pid from the pidfd, keeps the pidfd, and signals and joins
// processes only through the pidfds it holds. Nothing it forwards is unbounded: captured output
// stops at the request's limit, and reading pauses while the agent is behind.
import koffi from 'koffi';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { sys, decodeWaitStatus } from '../native/sys.js';
import { PR, SIG, SOCK_SEQPACKET } from '../native/constants.js';
import { SpawnerRequest, type SpawnerReply, type LabSpec, type SpawnSpec } from './protocol.js';
import { forkInto, setRuntimeFds } from './sequence.js';
import { labAnchor } from './lab-init.js';
import { joinAndSpawn, waitForRequest, type ChildStdio } from './join.js';

const SETUP_TIMEOUT_MS = Number(process.env.NSLAB_SPAWN_TIMEOUT_MS ?? 10_000);
/** Reports one set-up may send (a few pids, trace lines, one error). */
const MAX_REPORTS = 64;
/** Stop reading captured output while this much waits to be written to the agent. */
const CHANNEL_HIGH = 1024 * 1024;

function send(msg: SpawnerReply) {
  process.stdout.write(JSON.stringify(msg) + '\n');
  if (process.stdout.writableLength > CHANNEL_HIGH) pauseCaptures();
}

// ---- the processes the spawner started, each held by a pidfd -----------------------------------

interface Proc {
  pidfd: number;
  /** The spawner reaps it (its child, or adopted as a subreaper); else it is watched by its pidfd. */
  child: boolean;
  poll: ReturnType<typeof koffi.node.poll> | null;
}
const procs = new Map<number, Proc>();

/** The pid behind a pidfd, in the spawner's PID namespace; 0 when the process is already gone. */
function pidOf(pidfd: number): number {
  const m = /^Pid:\s*(-?\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${pidfd}`, 'latin1'));
  const pid = m ? Number(m[1]) : 0;
  return pid > 0 ? pid : 0;
}

/**
 * Keep a started process by its pidfd; returns its pid. When it is already gone: for a child of
 * ours, the pid its set-up named if we reaped exactly that pid meanwhile (its exit waits in
 * `early`); else 0. The fd is closed then.
 */
function hold(pidfd: number, child: boolean, named = 0): number {
  const pid = pidOf(pidfd);
  if (!pid) {
    sys.close(pidfd);
    return child && named > 0 && early.has(named) ? named : 0;
  }
  // An exit recorded under this pid belonged to an earlier process that had the same number.
  early.delete(pid);
  const proc: Proc = { pidfd, child, poll: null };
  procs.set(pid, proc);
  if (!child) {
    // A process we do not parent (a lab's init, a pane's PID 1): its pidfd turns readable when it
    // exits; its parent reaps it, so the status is not ours to read.
    proc.poll = koffi.node.poll(pidfd, { readable: true }, () => {
      release(pid);
      send({ ev: 'exit', pid, exitCode: null, signal: null });
    });
  }
  return pid;
}

function release(pid: number) {
  const proc = procs.get(pid);
  if (!proc) return;
  procs.delete(pid);
  proc.poll?.close();
  sys.close(proc.pidfd);
}

function signal(pid: number, sig: number) {
  const proc = procs.get(pid);
  if (!proc) throw new Error(`pid ${pid} is not a process the spawner started`);
  try {
    sys.pidfdSendSignal(proc.pidfd, sig, `pid ${pid}`);
  } catch {
    /* it has exited; its exit is reported as it is reaped */
  }
}

// ---- children and their exits -------------------------------------------------------------

/** Exits of children seen before their set-up reported them (a command that ends at once). */
const early = new Map<number, { exitCode: number | null; signal: number | null }>();

function reapAll() {
  for (;;) {
    let r: { pid: number; status: number } | null;
    try {
      r = sys.waitNoHang(-1);
    } catch {
      return; // ECHILD: nothing left
    }
    if (!r) return;
    const st = decodeWaitStatus(r.status);
    const proc = procs.get(r.pid);
    if (proc?.child) {
      release(r.pid);
      finishOutputs(r.pid, () => send({ ev: 'exit', pid: r!.pid, ...st }));
    } else if (!proc) {
      // A joiner, an anchor that failed, or a process whose report is still on its way.
      early.set(r.pid, st);
      if (early.size > 4096) early.delete(early.keys().next().value!);
    }
  }
}

// ---- captured output of exec'd commands ----------------------------------------------------

interface Capture {
  pid: number;
  fd: number;
  which: 1 | 2;
  left: number;
  poll: ReturnType<typeof koffi.node.poll> | null;
  done: boolean;
}
const captures = new Set<Capture>();
let capturesPaused = false;
const openOutputs = new Map<number, { count: number; whenDone: (() => void) | null }>();
const readBuf = Buffer.alloc(65536);

function captureOutput(pid: number, fd: number, which: 1 | 2, limit: number) {
  const entry = openOutputs.get(pid) ?? { count: 0, whenDone: null };
  entry.count++;
  openOutputs.set(pid, entry);
  sys.setNonBlocking(fd);
  const c: Capture = { pid, fd, which, left: limit, poll: null, done: false };
  captures.add(c);
  if (!capturesPaused) watchCapture(c);
}

function watchCapture(c: Capture) {
  if (c.done) return;
  if (c.poll) c.poll.start({ readable: true, disconnect: true }, () => drainCapture(c));
  else c.poll = koffi.node.poll(c.fd, { readable: true, disconnect: true }, () => drainCapture(c));
}

function drainCapture(c: Capture) {
  while (!c.done && !capturesPaused) {
    const n = sys.readRaw(c.fd, readBuf, Math.min(readBuf.length, Math.max(c.left, 1)));
    if (n === -11 /* EAGAIN */) return;
    if (n > 0) {
      const part = Math.min(n, c.left);
      if (part > 0) send({ ev: 'out', pid: c.pid, fd: c.which, data: readBuf.subarray(0, part).toString('base64') });
      c.left -= part;
      // At the limit, the rest is refused: closing our end makes the command's next write fail
      // (EPIPE, or SIGPIPE), as `cmd | head` would, instead of it being read for nothing.
      if (c.left <= 0 || part < n) endCapture(c, true);
      continue;
    }
    // 0 (every writer gone) or an error: this stream is done.
    endCapture(c, false);
  }
}

function endCapture(c: Capture, truncated: boolean) {
  if (c.done) return;
  c.done = true;
  captures.delete(c);
  c.poll?.close();
  sys.close(c.fd);
  send({ ev: 'eof', pid: c.pid, fd: c.which, ...(truncated ? { truncated: true } : {}) });
  const entry = openOutputs.get(c.pid);
  if (!entry) return;
  entry.count--;
  if (entry.count === 0) {
    openOutputs.delete(c.pid);
    entry.whenDone?.();
  }
}

/** The agent is behind: read no more output until what waits for it has been written. */
function pauseCaptures() {
  if (capturesPaused) return;
  capturesPaused = true;
  for (const c of captures) c.poll?.stop();
  process.stdout.once('drain', () => {
    capturesPaused = false;
    for (const c of captures) watchCapture(c);
  });
}

/** Report an exit only after the process's output has been drained, so nothing is lost. */
function finishOutputs(pid: number, then: () => void) {
  const entry = openOutputs.get(pid);
  if (entry) entry.whenDone = then;
  else then();
}

// ---- setup reports from children -----------------------------------------------------------

interface SetupResult {
  /** Pidfds of the processes the set-up started, in the order reported. */
  pidfds: number[];
  /** The pids the set-up gave with them (only a hint: see hold()). */
  named: number[];
  error?: { msg: string; step?: string; code?: string };
}

/**
 * Collect the messages children send until every copy of the socket closes (all exec'd or
 * exited). `setup`: pidfds of the set-up's own processes, killed by the watchdog; closed here.
 */
function collectReports(sock: number, setup: number[], done: (r: SetupResult) => void) {
  sys.setNonBlocking(sock);
  const result: SetupResult = { pidfds: [], named: [] };
  let reports = 0;
  let finished = false;
  const kill = () => {
    for (const fd of [...setup, ...result.pidfds]) {
      try {
        sys.pidfdSendSignal(fd, SIG.KILL, 'a set-up process');
      } catch {
        /* already gone */
      }
    }
  };
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    h.close();
    sys.close(sock);
    for (const fd of setup) sys.close(fd);
    done(result);
  };
  const timer = setTimeout(() => {
    kill();
    result.error ??= { msg: `setup did not finish within ${SETUP_TIMEOUT_MS} ms`, step: 'watchdog' };
    finish();
  }, SETUP_TIMEOUT_MS);
  const h = koffi.node.poll(sock, { readable: true, disconnect: true }, () => {
    for (;;) {
      let m: ReturnType<typeof sys.receiveMessage>;
      try {
        m = sys.receiveMessage(sock);
      } catch (err) {
        result.error ??= { msg: (err as Error).message };
        return finish();
      }
      if (m === 'again') return;
      if (m === 'end') return finish();
      if (++reports > MAX_REPORTS) {
        for (const fd of m.fds) sys.close(fd);
        kill();
        result.error ??= { msg: `more than ${MAX_REPORTS} reports from one set-up` };
        return finish();
      }
      let r: { t?: string; pid?: unknown; msg?: string; step?: string; code?: string; steps?: unknown };
      try {
        r = JSON.parse(m.data.toString());
      } catch {
        r = {};
      }
      if (r.t === 'pid' && m.fds.length === 1) {
        result.pidfds.push(m.fds[0]!);
        result.named.push(typeof r.pid === 'number' ? r.pid : 0);
        continue;
      }
      for (const fd of m.fds) sys.close(fd);
      if (r.t === 'err') result.error ??= { msg: String(r.msg), step: r.step, code: r.code };
      else if (r.t === 'trace') send({ ev: 'log', level: 'trace', msg: JSON.stringify(r.steps) });
      else result.error ??= { msg: `unreadable report: ${m.data.toString().slice(0, 200)}` };
    }
  });
}

// ---- joiners forked ahead, already in their cgroups ------------------------------------------

/** At most this many joiners wait at once (the most recently used cgroups keep theirs). */
const MAX_WAITING = 32;

interface Waiting {
  pid: number;
  pidfd: number;
  sock: number;
  poll: ReturnType<typeof koffi.node.poll>;
}
/** By cgroups (their cgroup.procs paths, as JSON): one joiner each, forked ahead. */
const waiting = new Map<string, Waiting>();

function dropWaiting(key: string, kill: boolean) {
  const w = waiting.get(key);
  if (!w) return;
  waiting.delete(key);
  w.poll.close();
  if (kill) {
    try {
      sys.pidfdSendSignal(w.pidfd, SIG.KILL, 'a waiting joiner');
    } catch {
      /* gone */
    }
  }
  sys.close(w.pidfd);
  sys.close(w.sock);
}

/**
 * Fork a joiner for these cgroups ahead of the next request: moving a process into a cgroup is
 * the slowest step of a spawn on cgroup v1, and the fork itself takes a few milliseconds more.
 */
function prepareJoiner(key: string, cgroupProcs: string[]) {
  if (waiting.has(key)) return;
  // Never for a lab that is closing: its cgroups are about to be removed.
  if (cgroupProcs.some((p) => [...closingDirs].some((d) => p.startsWith(`${d}/`)))) return;
  const [mine, theirs] = sys.socketpair(SOCK_SEQPACKET);
  let pid: number;
  try {
    pid = forkInto(() => waitForRequest(theirs, cgroupProcs));
  } catch {
    sys.close(mine);
    sys.close(theirs);
    return;
  }
  sys.close(theirs);
  const pidfd = sys.pidfdOpen(pid);
  // A lab that closes kills what is in its cgroups, this joiner included.
  const poll = koffi.node.poll(pidfd, { readable: true }, () => {
    if (waiting.get(key)?.pid === pid) dropWaiting(key, false);
  });
  waiting.set(key, { pid, pidfd, sock: mine, poll });
  while (waiting.size > MAX_WAITING) dropWaiting(waiting.keys().next().value!, true);
}

/** A lab is closing: the joiners waiting in its cgroups (or their sub-cgroups) are killed. */
const closingDirs = new Set<string>();
function forgetJoiners(dirs: string[]) {
  for (const d of dirs) closingDirs.add(d);
  if (closingDirs.size > 1024) closingDirs.delete(closingDirs.values().next().value!);
  for (const key of [...waiting.keys()]) {
    const paths = JSON.parse(key) as string[];
    if (paths.some((p) => dirs.some((d) => p === `${d}/cgroup.procs` || p.startsWith(`${d}/`)))) dropWaiting(key, true);
  }
}

/** Give a request to the joiner waiting for these cgroups; its pidfd, or null if there is none. */
function handToWaiting(key: string, spec: SpawnSpec, report: number, target: number, stdio: ChildStdio): number | null {
  const w = waiting.get(key);
  if (!w) return null;
  waiting.delete(key);
  w.poll.close();
  let specFd = -1;
  try {
    specFd = sys.memfdWith('nslab-spec', Buffer.from(JSON.stringify(spec)));
    const fds = [report, target, specFd, ...[stdio.stdin, stdio.stdout, stdio.stderr].filter((fd): fd is number => fd !== undefined)];
    sys.sendMessage(w.sock, Buffer.from(JSON.stringify({ stdin: stdio.stdin !== undefined })), fds);
    return w.pidfd;
  } catch {
    // It died meanwhile (its lab closed, the OOM killer): fork one as usual.
    try {
      sys.pidfdSendSignal(w.pidfd, SIG.KILL, 'a waiting joiner');
    } catch {
      /* gone */
    }
    sys.close(w.pidfd);
    return null;
  } finally {
    if (specFd >= 0) sys.close(specFd);
    sys.close(w.sock);
  }
}

// ---- requests ------------------------------------------------------------------------------

function makeLab(id: number, spec: LabSpec) {
  const [mine, theirs] = sys.socketpair(SOCK_SEQPACKET);
  const anchor = forkInto(() => labAnchor(spec, theirs, spawnerPid));
  sys.close(theirs);
  // Our child cannot be reaped before we wait for it, so its pid is still its own here.
  const anchorPid = hold(sys.pidfdOpen(anchor), true);
  collectReports(mine, [sys.pidfdOpen(anchor)], (res) => {
    const [initFd, ...extra] = res.pidfds;
    for (const fd of extra) sys.close(fd);
    const initPid = !res.error && initFd !== undefined ? hold(initFd, false) : 0;
    if (!initPid) {
      if (initFd !== undefined && res.error) sys.close(initFd);
      if (procs.has(anchorPid)) signal(anchorPid, SIG.KILL);
      send({ id, ok: false, error: res.error?.msg ?? 'the lab init did not start', step: res.error?.step, code: res.error?.code });
      return;
    }
    send({ id, ok: true, anchorPid, initPid });
    // Its first pane will find a joiner already in its cgroups (where the lab's processes live).
    const paneProcs = spec.cgroupDelegation?.labProcs ?? spec.cgroupProcs;
    prepareJoiner(JSON.stringify(paneProcs), paneProcs);
  });
}

function spawnIn(id: number, spec: SpawnSpec) {
  const target = procs.get(spec.targetPid);
  if (!target) {
    send({ id, ok: false, error: `pid ${spec.targetPid} is not a process the spawner started`, step: 'check the target' });
    return;
  }
  const stdio: ChildStdio = {};
  const parentEnds: number[] = [];
  const childEnds: number[] = [];
  if (!spec.tty) {
    if (spec.stdin) {
      stdio.stdin = sys.memfdWith('nslab-stdin', Buffer.from(spec.stdin, 'base64'));
      childEnds.push(stdio.stdin);
    }
    const [outR, outW] = sys.pipe();
    const [errR, errW] = sys.pipe();
    stdio.stdout = outW;
    stdio.stderr = errW;
    childEnds.push(outW, errW);
    parentEnds.push(outR, errR);
  }
  const [mine, theirs] = sys.socketpair(SOCK_SEQPACKET);
  const key = JSON.stringify(spec.cgroupProcs);
  let joinerFd = handToWaiting(key, spec, theirs, target.pidfd, stdio);
  if (joinerFd === null) {
    const joiner = forkInto(() => joinAndSpawn(spec, target.pidfd, stdio, theirs));
    joinerFd = sys.pidfdOpen(joiner);
  }
  sys.close(theirs);
  for (const fd of childEnds) sys.close(fd);
  // The next request for these cgroups finds a joiner already in them.
  setImmediate(() => prepareJoiner(key, spec.cgroupProcs));
  collectReports(mine, [joinerFd], (res) => {
    const [procFd, ...extra] = res.pidfds;
    for (const fd of extra) sys.close(fd);
    if (res.error || procFd === undefined) {
      if (procFd !== undefined) {
        try {
          sys.pidfdSendSignal(procFd, SIG.KILL, 'a process whose set-up failed');
        } catch {
          /* gone */
        }
        sys.close(procFd);
      }
      for (const fd of parentEnds) sys.close(fd);
      // No report at all: a child died before it could say why (counted as lost, retried by the agent).
      send({ id, ok: false, error: res.error?.msg ?? 'the process did not start', step: res.error?.step ?? 'lost', code: res.error?.code });
      return;
    }
    // Without its own PID namespace the process is adopted by us (a child subreaper) when the
    // joiner exits; with one, it belongs to the lab's init.
    const child = (spec.unshareFlags & 0x20000000) === 0;
    const pid = hold(procFd, child, res.named[0]);
    if (!pid) {
      for (const fd of parentEnds) sys.close(fd);
      send({ id, ok: false, error: 'the process ended before it could be watched', step: 'watch the process' });
      return;
    }
    if (parentEnds.length === 2) {
      captureOutput(pid, parentEnds[0]!, 1, spec.outputLimit);
      captureOutput(pid, parentEnds[1]!, 2, spec.outputLimit);
    }
    send({ id, ok: true, pid });
    const st = early.get(pid);
    if (st && child) {
      early.delete(pid);
      release(pid);
      finishOutputs(pid, () => send({ ev: 'exit', pid, ...st }));
    }
  });
}

function handle(line: string) {
  let req: SpawnerRequest;
  try {
    req = SpawnerRequest.parse(JSON.parse(line));
  } catch (err) {
    send({ ev: 'log', level: 'error', msg: `bad request: ${(err as Error).message.slice(0, 300)}` });
    return;
  }
  try {
    switch (req.op) {
      case 'ping':
        send({ id: req.id, ok: true, pid: spawnerPid });
        break;
      case 'lab':
        makeLab(req.id, req.spec);
        break;
      case 'spawn':
        spawnIn(req.id, req.spec);
        break;
      case 'forget':
        forgetJoiners(req.cgroupDirs);
        send({ id: req.id, ok: true });
        break;
      case 'kill':
        signal(req.pid, req.signal);
        send({ id: req.id, ok: true });
        break;
    }
  } catch (err) {
    send({ id: req.id, ok: false, error: (err as Error).message });
  }
}

// ---- start ---------------------------------------------------------------------------------

const spawnerPid = sys.getpid();
// What `ps` shows of this process and of every child until its exec (the argv area is shared).
process.title = 'nslab-spawner';
sys.prctl('PR_SET_CHILD_SUBREAPER', PR.SET_CHILD_SUBREAPER, 1);
sys.setPdeathsig(SIG.KILL);
if (String(sys.getppid()) !== process.env.NSLAB_AGENT_PID) {
  process.stderr.write('nslab spawner: started without its agent\n');
  sys.exit(1);
}
// Worked out once, here: a forked child never needs /proc for it.
sys.markAllDoFork();
process.on('SIGCHLD', reapAll);
setInterval(reapAll, 500).unref();
const rl = createInterface({ input: process.stdin });
// Everything open now is the runtime's (see setRuntimeFds); what opens later is a request's.
const runtime = readdirSync('/proc/self/fd')
  .map(Number)
  .filter((fd) => fd > 2);
setRuntimeFds(
  runtime.filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) !== '';
    } catch {
      return false; // the directory listing's own descriptor, closed by now
    }
  }),
);
rl.on('line', handle);
rl.on('close', () => {
  // The agent is done with us: reap what we still parent, then go (our labs' anchors die with us).
  reapAll();
  sys.exit(0);
});
send({ ev: 'log', level: 'info', msg: `spawner ${spawnerPid} ready (runtime descriptors kept in children: ${runtime.join(' ') || 'none'})` });

// The spawner: a small single-threaded, JIT-less Node process owned by the agent. It forks
// through koffi (a multithreaded process cannot fork safely, and V8's JIT code pages do not
// survive fork) and runs the fixed sequences in lab-init.ts and join.ts in the children.
// Requests arrive as JSON lines on stdin; replies and events leave as JSON lines on stdout.
import koffi from 'koffi';
import { createInterface } from 'node:readline';
import { sys, decodeWaitStatus } from '../native/sys.js';
import { PR, SIG } from '../native/constants.js';
import { SpawnerRequest, type SpawnerReply, type LabSpec, type SpawnSpec } from './protocol.js';
import { forkInto } from './sequence.js';
import { labAnchor } from './lab-init.js';
import { joinAndSpawn, type ChildStdio } from './join.js';

const SETUP_TIMEOUT_MS = Number(process.env.NSLAB_SPAWN_TIMEOUT_MS ?? 10_000);

function send(msg: SpawnerReply) {
  process.stdout.write(JSON.stringify(msg) + '\n');
}

// ---- children and their exits -------------------------------------------------------------

/** Pids the agent cares about; exits of other children (joiners, anchors) are just reaped. */
const watched = new Set<number>();
/** Exits seen before the agent learnt the pid (a command that ends before its joiner reports). */
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
    if (watched.delete(r.pid)) finishOutputs(r.pid, () => send({ ev: 'exit', pid: r!.pid, ...st }));
    else {
      early.set(r.pid, st);
      if (early.size > 4096) early.delete(early.keys().next().value!);
    }
  }
}

function watch(pid: number) {
  const st = early.get(pid);
  if (st) {
    early.delete(pid);
    finishOutputs(pid, () => send({ ev: 'exit', pid, ...st }));
  } else watched.add(pid);
}

/** A process we do not parent (a lab's init, a pane's PID 1): its pidfd turns readable when it exits. */
function watchForeign(pid: number) {
  let fd: number;
  try {
    fd = sys.pidfdOpen(pid);
  } catch {
    send({ ev: 'exit', pid, exitCode: null, signal: null });
    return;
  }
  const h = koffi.node.poll(fd, { readable: true }, () => {
    h.close();
    sys.close(fd);
    // Its parent reaps it, so the status is not ours to read.
    send({ ev: 'exit', pid, exitCode: null, signal: null });
  });
}

// ---- captured output of exec'd commands ----------------------------------------------------

const openOutputs = new Map<number, { count: number; then: (() => void) | null }>();

function captureOutput(pid: number, fd: number, which: 1 | 2) {
  const entry = openOutputs.get(pid) ?? { count: 0, then: null };
  entry.count++;
  openOutputs.set(pid, entry);
  sys.setNonBlocking(fd);
  const buf = Buffer.alloc(65536);
  const h = koffi.node.poll(fd, { readable: true, disconnect: true }, () => {
    for (;;) {
      const n = sys.readRaw(fd, buf);
      if (n > 0) {
        send({ ev: 'out', pid, fd: which, data: buf.subarray(0, n).toString('base64') });
        continue;
      }
      if (n === -11 /* EAGAIN */) return;
      // 0 (every writer gone) or an error: this stream is done.
      h.close();
      sys.close(fd);
      send({ ev: 'eof', pid, fd: which });
      entry.count--;
      if (entry.count === 0) {
        openOutputs.delete(pid);
        entry.then?.();
      }
      return;
    }
  });
}

/** Report an exit only after the process's output has been drained, so nothing is lost. */
function finishOutputs(pid: number, then: () => void) {
  const entry = openOutputs.get(pid);
  if (entry) entry.then = then;
  else then();
}

// ---- setup reports from children -----------------------------------------------------------

interface SetupResult {
  pids: number[];
  /** The reported process is not our child (a pane's PID 1, adopted by the lab's init). */
  foreign: boolean;
  error?: { msg: string; step?: string; code?: string };
}

/** Collect the JSON lines children write until every copy of the pipe closes (all exec'd). */
function collectReports(readFd: number, children: number[], done: (r: SetupResult) => void) {
  sys.setNonBlocking(readFd);
  const result: SetupResult = { pids: [], foreign: false };
  let text = '';
  const buf = Buffer.alloc(8192);
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    h.close();
    sys.close(readFd);
    done(result);
  };
  const timer = setTimeout(() => {
    for (const pid of [...children, ...result.pids]) {
      try {
        sys.kill(pid, SIG.KILL);
      } catch {
        /* already gone */
      }
    }
    result.error ??= { msg: `setup did not finish within ${SETUP_TIMEOUT_MS} ms` , step: 'watchdog' };
    finish();
  }, SETUP_TIMEOUT_MS);
  const h = koffi.node.poll(readFd, { readable: true, disconnect: true }, () => {
    for (;;) {
      const n = sys.readRaw(readFd, buf);
      if (n === -11) return;
      if (n <= 0) return finish();
      text += buf.subarray(0, n).toString();
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        try {
          const m = JSON.parse(line);
          if (m.t === 'pid') {
            result.pids.push(m.pid);
            if (m.foreign) result.foreign = true;
          }
          else if (m.t === 'err') result.error ??= { msg: m.msg, step: m.step, code: m.code };
          else if (m.t === 'trace') send({ ev: 'log', level: 'trace', msg: JSON.stringify(m.steps) });
        } catch {
          result.error ??= { msg: `unreadable report: ${line.slice(0, 200)}` };
        }
      }
    }
  });
}

// ---- requests ------------------------------------------------------------------------------

function makeLab(id: number, spec: LabSpec) {
  const [r, w] = sys.pipe();
  const anchor = forkInto(() => labAnchor(spec, w, spawnerPid));
  sys.close(w);
  collectReports(r, [anchor], (res) => {
    const initPid = res.pids[0];
    if (res.error || !initPid) {
      try {
        sys.kill(anchor, SIG.KILL);
      } catch {
        /* gone */
      }
      send({ id, ok: false, error: res.error?.msg ?? 'the lab init did not start', step: res.error?.step, code: res.error?.code });
      return;
    }
    watchForeign(initPid);
    send({ id, ok: true, anchorPid: anchor, initPid });
  });
}

function spawnIn(id: number, spec: SpawnSpec) {
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
  const [r, w] = sys.pipe();
  const joiner = forkInto(() => joinAndSpawn(spec, stdio, w));
  sys.close(w);
  for (const fd of childEnds) sys.close(fd);
  collectReports(r, [joiner], (res) => {
    const pid = res.pids[0];
    if (res.error || !pid) {
      for (const fd of parentEnds) sys.close(fd);
      // No report at all: a child died before it could say why (counted as lost, retried by the agent).
      send({ id, ok: false, error: res.error?.msg ?? 'the process did not start', step: res.error?.step ?? 'lost', code: res.error?.code });
      return;
    }
    if (parentEnds.length === 2) {
      captureOutput(pid, parentEnds[0]!, 1);
      captureOutput(pid, parentEnds[1]!, 2);
    }
    send({ id, ok: true, pid });
    if (res.foreign) watchForeign(pid);
    else watch(pid);
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
      case 'kill':
        try {
          sys.kill(req.pid, req.signal);
        } catch {
          /* already gone */
        }
        send({ id: req.id, ok: true });
        break;
    }
  } catch (err) {
    send({ id: req.id, ok: false, error: (err as Error).message });
  }
}

// ---- start ---------------------------------------------------------------------------------

const spawnerPid = sys.getpid();
sys.prctl('PR_SET_CHILD_SUBREAPER', PR.SET_CHILD_SUBREAPER, 1);
sys.setPdeathsig(SIG.KILL);
if (String(sys.getppid()) !== process.env.NSLAB_AGENT_PID) {
  process.stderr.write('nslab spawner: started without its agent\n');
  sys.exit(1);
}
process.on('SIGCHLD', reapAll);
setInterval(reapAll, 500).unref();
const rl = createInterface({ input: process.stdin });
rl.on('line', handle);
rl.on('close', () => {
  // The agent is done with us: reap what we still parent, then go (our labs' anchors die with us).
  reapAll();
  sys.exit(0);
});
send({ ev: 'log', level: 'info', msg: `spawner ${spawnerPid} ready` });

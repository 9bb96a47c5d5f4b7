// The streaming group of `npm run bench` (`--only stream`): a pane's output through the agent and
// the WebSocket to a client, against the PTY read directly (the kernel's limit) and against a
// plain node-pty + ws server (the peer, ./peer.ts). The agent and the peer each run as their own
// process, so each has its own event loop and the agent's memory is its own; the clients and the
// raw PTY reader live in this process.
//
// Every part runs on its own lab and terminals: a part whose workload stalls (output that never
// comes) is recorded as a stall, with whose and how many bytes, and the next part still runs.
import { spawn } from 'node:child_process';
import { closeSync, constants as fsc, openSync } from 'node:fs';
import WebSocket, { type RawData } from 'ws';
import { FLOW_HIGH_BYTES, FRAME_OUTPUT, FRAME_SNAPSHOT, LabInfo } from '@nslab/shared';
import type { AgentClient } from '../cli/client.js';
import { Pty } from '../pty/pty.js';
import { cpuSeconds, median, pct, round, rssMb, section, sleep, StallError, type Findings, type Metric } from './util.js';
import { startChildAgent, startPeer, type Child, type ChildAgent } from './child.js';

export { startChildAgent, type ChildAgent } from './child.js';

export interface StreamOptions {
  /** Lines the throughput workload prints (a text file's worth, written in large blocks as `cat` does). */
  lines: number;
  /** Throughput runs per contender (raw, agent, peer), interleaved. */
  rounds: number;
  /** Keystrokes timed per contender. */
  echoes: number;
  /** Ctrl-C runs per contender. */
  ctrlCRuns: number;
  /** Reconnects timed per screen. */
  replays: number;
  /** How long the flood lasts (s). */
  floodS: number;
  /** Labs left running `yes` with nobody attached, next to a learner who types. */
  unattended: number;
  /** Write a CPU profile of the agent into this directory (where does its time go?). */
  profileDir?: string;
  say: (msg: string) => void;
  /** Stalls and errors go here; the group goes on. */
  findings: Findings;
}

const COLS = 100;
const ROWS = 30;
/** A prompt the bench sets in every shell it drives, so it can tell when a command is over. */
const PROMPT = 'nslab-bench> ';
const SET_PROMPT = `PS1='nslab-''bench> '\r`;
/** Printed after each workload; the typed command says `$((40+2))`, so only the output matches. */
const MARK = 'nslab-42-done';
const ECHO_MARK = 'echo nslab-$((40+2))-done';
/** How long the prompt may take to come back after Ctrl-C before that is a stall (a bound on behaviour). */
const CTRL_C_BOUND_MS = 15_000;

/** One line of the throughput workload: 70 characters, about what a log file or source file has. */
const LINE = 'nslab bench 0123456789: the quick brown fox jumps over the lazy dog ok';

const now = () => performance.now();

interface Seen {
  at: number;
  /** Bytes received when it was seen. */
  bytes: number;
}

/** A terminal's output as a client receives it: byte count, arrival times, text to wait for. */
class Tap {
  bytes = 0;
  /** Messages (frames) received. */
  chunks = 0;
  lastAt = 0;
  private readonly watches = new Set<{ text: string; seen: string; done: (s: Seen) => void }>();
  private readonly chunkWaiters = new Set<(s: Seen) => void>();

  /** `who`: for stall reports ("agent uts/host", "peer"). */
  constructor(readonly who: string) {}

  push(chunk: Uint8Array) {
    const at = now();
    this.bytes += chunk.length;
    this.chunks++;
    this.lastAt = at;
    const seen = { at, bytes: this.bytes };
    if (this.chunkWaiters.size) {
      const ws = [...this.chunkWaiters];
      this.chunkWaiters.clear();
      for (const w of ws) w(seen);
    }
    if (!this.watches.size) return;
    const s = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
    for (const w of [...this.watches]) {
      w.seen += s;
      if (w.seen.includes(w.text)) {
        this.watches.delete(w);
        w.done(seen);
      } else w.seen = w.seen.slice(-(w.text.length - 1));
    }
  }

  /** Resolve with `p`, or reject with a StallError after `ms`. The timer never outlives `p`. */
  private bounded<T>(p: Promise<T>, ms: number, what: string, cleanup: () => void): Promise<T> {
    const t0 = now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StallError({ who: this.who, what, bytes: this.bytes, ms: now() - t0 })), ms);
    });
    return Promise.race([p, timeout]).finally(() => {
      clearTimeout(timer);
      cleanup();
    });
  }

  /**
   * When `text` appears in output that arrives from now on. Await it (or hand it to `settle`):
   * a promise left alone would reject on its own later.
   */
  expect(text: string, timeoutMs = 30_000): Promise<Seen> {
    let watch!: { text: string; seen: string; done: (s: Seen) => void };
    const p = new Promise<Seen>((done) => {
      watch = { text, seen: '', done };
      this.watches.add(watch);
    });
    return this.bounded(p, timeoutMs, `waiting for "${text}"`, () => this.watches.delete(watch));
  }

  /** The next chunk's arrival. */
  next(timeoutMs = 5_000): Promise<Seen> {
    let waiter!: (s: Seen) => void;
    const p = new Promise<Seen>((r) => {
      waiter = r;
      this.chunkWaiters.add(r);
    });
    return this.bounded(p, timeoutMs, 'waiting for output', () => this.chunkWaiters.delete(waiter));
  }

  /** Resolves once nothing has arrived for `ms`. */
  async quiet(ms: number, timeoutMs = 30_000) {
    const deadline = now() + timeoutMs;
    for (;;) {
      const idle = now() - this.lastAt;
      if (idle >= ms) return;
      if (now() > deadline) throw new StallError({ who: this.who, what: `output to stop (quiet for ${ms} ms)`, bytes: this.bytes, ms: timeoutMs });
      await sleep(Math.max(1, ms - idle));
    }
  }
}

/** A shell a client types into and reads from: a pane of the agent, or a peer's shell. */
interface Term {
  /** For messages: "agent" or "peer". */
  readonly name: string;
  readonly tap: Tap;
  input(data: string): void;
  close(): Promise<void>;
}

/** A pane of the agent, attached over its own WebSocket connection. */
class PaneTerm implements Term {
  readonly name = 'agent';
  readonly tap: Tap;

  private constructor(
    private readonly client: AgentClient,
    readonly lab: string,
    readonly pane: string,
    who: string,
  ) {
    this.tap = new Tap(who);
  }

  /** Connect and attach (no `from`: a snapshot, then live output). `ack`: acknowledge every frame. */
  static async open(agent: ChildAgent, lab: string, pane: string, ack = true): Promise<PaneTerm> {
    const client = await agent.connect();
    const t = new PaneTerm(client, lab, pane, `agent ${pane} pane${ack ? '' : ' (client that never acknowledges)'}`);
    const key = `${lab}/${pane}`;
    client.onFrame((f) => {
      if (f.key !== key || f.op !== FRAME_OUTPUT) return;
      t.tap.push(f.payload);
      if (ack) client.notify({ type: 'ack', lab, pane, offset: f.offset + f.payload.length });
    });
    await client.request({ type: 'attach', lab, pane, cols: COLS, rows: ROWS });
    return t;
  }

  /** Time from sending attach to its snapshot frame, on this fresh connection. */
  static async timeReplay(agent: ChildAgent, lab: string, pane: string): Promise<{ ms: number; bytes: number }> {
    const client = await agent.connect();
    try {
      const key = `${lab}/${pane}`;
      let t0 = 0;
      let off = () => {};
      const got = new Promise<{ ms: number; bytes: number }>((resolve) => {
        off = client.onFrame((f) => {
          if (f.key === key && f.op === FRAME_SNAPSHOT) resolve({ ms: now() - t0, bytes: f.payload.length });
        });
      });
      t0 = now();
      await client.request({ type: 'attach', lab, pane, cols: COLS, rows: ROWS });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new StallError({ who: `agent ${pane} pane (reconnecting client)`, what: 'the snapshot', bytes: 0, ms: 10_000 })),
          10_000,
        );
      });
      return await Promise.race([got, timeout]).finally(() => {
        clearTimeout(timer);
        off();
      });
    } finally {
      await client.close();
    }
  }

  input(data: string) {
    this.client.notify({ type: 'input', lab: this.lab, pane: this.pane, data });
  }

  close() {
    return this.client.close();
  }
}

/** A shell of the peer server, over its own WebSocket connection; acknowledges every message. */
class PeerTerm implements Term {
  readonly name = 'peer';
  readonly tap = new Tap('peer shell');
  private constructor(private readonly ws: WebSocket) {}

  static open(url: string): Promise<PeerTerm> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      const t = new PeerTerm(ws);
      ws.on('message', (data: RawData, isBinary: boolean) => {
        if (!isBinary) return;
        const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
        t.tap.push(buf);
        ws.send(JSON.stringify({ ack: t.tap.bytes }));
      });
      ws.once('open', () => resolve(t));
      ws.once('error', reject);
    });
  }

  input(data: string) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ input: data }));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once('close', () => resolve());
      this.ws.close();
      setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 1000).unref();
    });
  }
}

/** A fresh shell is ready: the bench's prompt is set and the shell is idle. */
async function ready(t: Term) {
  await t.tap.quiet(300, 10_000);
  const p = t.tap.expect(PROMPT, 10_000);
  t.input(SET_PROMPT);
  await p;
  await t.tap.quiet(100);
}

// --- measurements ------------------------------------------------------------------------------

interface Rate {
  bytes: number;
  ms: number;
  /** Messages the client received for it. */
  chunks: number;
}
const mbPerS = (r: Rate) => r.bytes / 1e6 / (r.ms / 1000);

/** The workload typed at a prompt: from the keystroke Enter to the end marker's arrival. */
async function typedWorkload(t: Term, command: string): Promise<Rate> {
  await t.tap.quiet(150);
  const b0 = t.tap.bytes;
  const c0 = t.tap.chunks;
  const done = t.tap.expect(MARK, 120_000);
  const t0 = now();
  t.input(`${command}; ${ECHO_MARK}\r`);
  const seen = await done;
  const chunks = t.tap.chunks - c0;
  await t.tap.quiet(100);
  return { bytes: seen.bytes - b0, ms: seen.at - t0, chunks };
}

/**
 * The same workload on a PTY of the host's devpts, read in this process with the agent's own Pty
 * class: what the kernel delivers with no WebSocket, no screen, no client.
 */
async function rawWorkload(command: string): Promise<Rate> {
  const devpts = openSync('/dev/pts', fsc.O_RDONLY | fsc.O_DIRECTORY);
  const pty = new Pty(devpts, 0, 0, COLS, ROWS);
  const tap = new Tap('raw PTY');
  pty.on('data', (chunk) => tap.push(chunk));
  pty.start();
  const slave = openSync(pty.slavePath, fsc.O_RDWR | fsc.O_NOCTTY);
  let child: ReturnType<typeof spawn> | undefined;
  try {
    const done = tap.expect(MARK, 120_000);
    const t0 = now();
    child = spawn('/bin/sh', ['-c', `${command}; ${ECHO_MARK}`], { stdio: [slave, slave, slave], detached: true });
    closeSync(slave);
    const exited = new Promise<void>((r) => child!.once('exit', () => r()));
    const seen = await done;
    await exited;
    return { bytes: seen.bytes, ms: seen.at - t0, chunks: tap.chunks };
  } finally {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    pty.close();
    closeSync(devpts);
  }
}

/** Keystroke to its echo, `n` times, alternating a letter and a backspace, spaced out. */
async function echoLatency(t: Term, n: number): Promise<number[]> {
  await t.tap.quiet(200);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const echoed = t.tap.next();
    const t0 = now();
    t.input(i % 2 ? '\x7f' : 'x');
    out.push((await echoed).at - t0);
    await t.tap.quiet(3);
    await sleep(5 + Math.random() * 10);
  }
  t.input('\x15'); // clear the line (Ctrl-U)
  await t.tap.quiet(100);
  return out;
}

/**
 * `yes` for a second with the client consuming everything, then Ctrl-C: from sending it to the
 * last output byte's arrival, "stopped" being the prompt back and then quiet for 500 ms.
 */
async function ctrlCStop(t: Term): Promise<{ ms: number; bytes: number }> {
  await t.tap.quiet(150);
  t.input('yes\r');
  await sleep(1000);
  const prompt = t.tap.expect(PROMPT, CTRL_C_BOUND_MS);
  const t0 = now();
  const b0 = t.tap.bytes;
  t.input('\x03');
  await prompt;
  await t.tap.quiet(500);
  return { ms: t.tap.lastAt - t0, bytes: t.tap.bytes - b0 };
}

/** Close whatever a part opened, even when it failed half-way. */
class Scope {
  private readonly terms: Term[] = [];
  private readonly labs: string[] = [];
  constructor(
    private readonly agent: ChildAgent,
    private readonly boot: AgentClient,
  ) {}

  async lab(lesson = 'uts'): Promise<string> {
    const id = LabInfo.parse(await this.boot.request({ type: 'open', lesson })).id;
    this.labs.push(id);
    return id;
  }

  async pane(lab: string, pane: string, ack = true): Promise<PaneTerm> {
    const t = await PaneTerm.open(this.agent, lab, pane, ack);
    this.terms.push(t);
    await ready(t);
    return t;
  }

  async peer(url: string): Promise<PeerTerm> {
    const t = await PeerTerm.open(url);
    this.terms.push(t);
    await ready(t);
    return t;
  }

  async close() {
    await Promise.allSettled(this.terms.map((t) => t.close()));
    await Promise.allSettled(this.labs.map((lab) => this.boot.request({ type: 'close', lab })));
  }
}

export async function runStreamBench(o: StreamOptions): Promise<Metric[]> {
  const metrics: Metric[] = [];
  const workload = `yes '${LINE}' | head -n ${o.lines}`;
  o.say('starting an agent and the peer server as child processes...');
  const agent = await startChildAgent(o.profileDir, { NSLAB_MAX_LABS: String(Math.max(16, o.unattended + 8)) });
  let peer: (Child & { url: string }) | null = null;
  let boot: AgentClient | null = null;
  const part = async (name: string, fn: (s: Scope) => Promise<void>) => {
    const s = new Scope(agent, boot!);
    await section(o.findings, `stream/${name}`, o.say, () => fn(s));
    await s.close();
  };
  try {
    peer = await startPeer();
    boot = await agent.connect();

    // --- throughput: the same workload raw, through the agent, through the peer --------------
    await part('throughput', async (s) => {
      o.say(`throughput: \`${workload}\` x${o.rounds} each, raw PTY / agent / peer interleaved...`);
      const nsT = await s.pane(await s.lab(), 'host');
      const peerT = await s.peer(peer!.url);
      const raw: Rate[] = [];
      const ns: Rate[] = [];
      const pr: Rate[] = [];
      // One untimed run each first: page cache, JIT, the shells' first fork of seq.
      await rawWorkload(workload);
      await typedWorkload(nsT, workload);
      await typedWorkload(peerT, workload);
      for (let i = 0; i < o.rounds; i++) {
        raw.push(await rawWorkload(workload));
        ns.push(await typedWorkload(nsT, workload));
        pr.push(await typedWorkload(peerT, workload));
      }
      const show = (rs: Rate[]) => rs.map((r) => mbPerS(r).toFixed(0)).join(' ');
      const size = (rs: Rate[]) => `${(median(rs.map((r) => r.bytes / r.chunks)) / 1024).toFixed(1)} KiB`;
      o.say(`  raw ${show(raw)} | agent ${show(ns)} | peer ${show(pr)} MB/s (${(median(raw.map((r) => r.bytes)) / 1e6).toFixed(1)} MB a run)`);
      o.say(`  mean chunk: raw read ${size(raw)}, agent frame ${size(ns)}, peer message ${size(pr)}`);
      const rawMb = median(raw.map(mbPerS));
      const nsMb = median(ns.map(mbPerS));
      const peerMb = median(pr.map(mbPerS));
      metrics.push({ name: 'pty_to_ws_mb_s', value: round(nsMb), unit: 'MB/s', baseline: 'pty_raw_mb_s', baseline_value: round(rawMb) });
      metrics.push({ name: 'pty_to_ws_ratio', value: round(nsMb / rawMb), unit: 'x raw' });
      metrics.push({ name: 'peer_pty_to_ws_mb_s', value: round(peerMb), unit: 'MB/s', baseline: 'pty_raw_mb_s', baseline_value: round(rawMb) });
    });

    // --- keystroke echo -------------------------------------------------------------------------
    await part('echo', async (s) => {
      o.say(`echo latency x${o.echoes} each...`);
      const nsT = await s.pane(await s.lab(), 'host');
      const peerT = await s.peer(peer!.url);
      const nsEcho: number[] = [];
      const peerEcho: number[] = [];
      // In halves, alternating, so that a noisy moment does not land on one side only.
      for (const half of [0, 1]) {
        const n = half ? o.echoes - Math.floor(o.echoes / 2) : Math.floor(o.echoes / 2);
        nsEcho.push(...(await echoLatency(nsT, n)));
        peerEcho.push(...(await echoLatency(peerT, n)));
      }
      metrics.push({
        name: 'echo_latency_ms_p50',
        value: round(pct(nsEcho, 50)),
        unit: 'ms',
        baseline: 'peer (node-pty + ws)',
        baseline_value: round(pct(peerEcho, 50)),
      });
      metrics.push({
        name: 'echo_latency_ms_p99',
        value: round(pct(nsEcho, 99)),
        unit: 'ms',
        baseline: 'peer (node-pty + ws)',
        baseline_value: round(pct(peerEcho, 99)),
      });
    });

    // --- Ctrl-C during a flood ------------------------------------------------------------------
    await part('ctrl-c', async (s) => {
      o.say(`Ctrl-C during \`yes\` x${o.ctrlCRuns} each...`);
      const nsT = await s.pane(await s.lab(), 'host');
      const peerT = await s.peer(peer!.url);
      const nsStop: { ms: number; bytes: number }[] = [];
      const peerStop: { ms: number; bytes: number }[] = [];
      for (let i = 0; i < o.ctrlCRuns; i++) {
        nsStop.push(await ctrlCStop(nsT));
        peerStop.push(await ctrlCStop(peerT));
      }
      const stops = (xs: { ms: number; bytes: number }[]) =>
        `${xs.map((x) => x.ms.toFixed(0)).join(' ')} ms (${(median(xs.map((x) => x.bytes)) / 1024).toFixed(0)} KiB after Ctrl-C)`;
      o.say(`  agent ${stops(nsStop)} | peer ${stops(peerStop)}`);
      metrics.push({
        name: 'ctrl_c_stop_ms',
        value: round(median(nsStop.map((x) => x.ms))),
        unit: 'ms',
        baseline: 'peer (node-pty + ws)',
        baseline_value: round(median(peerStop.map((x) => x.ms))),
      });
    });

    // --- reconnect: attach on a fresh connection until the screen snapshot arrives ------------
    await part('replay', async (s) => {
      o.say(`reconnect replay x${o.replays} each (full screen and scrollback / empty screen)...`);
      const labR = await s.lab();
      const full = await s.pane(labR, 'host');
      const FILL = `awk 'BEGIN{for(i=1;i<=5000;i++) printf "\\033[3%dm%05d\\033[0m the quick brown fox jumps over the lazy dog %d\\n", i%8, i, i*i}'`;
      await typedWorkload(full, FILL);
      const empty = await s.pane(labR, 'container');
      const cleared = empty.tap.expect(PROMPT);
      empty.input('clear\r');
      await cleared;
      await empty.tap.quiet(100);
      const fullR: { ms: number; bytes: number }[] = [];
      const emptyR: { ms: number; bytes: number }[] = [];
      for (let i = 0; i < o.replays; i++) {
        fullR.push(await PaneTerm.timeReplay(agent, labR, 'host'));
        emptyR.push(await PaneTerm.timeReplay(agent, labR, 'container'));
      }
      const kib = (rs: { bytes: number }[]) => `${(median(rs.map((r) => r.bytes)) / 1024).toFixed(1)} KiB`;
      o.say(`  snapshot ${kib(fullR)} (full) / ${kib(emptyR)} (empty); the peer has no replay (a new connection gets a new shell)`);
      metrics.push({
        name: 'reconnect_replay_ms',
        value: round(median(fullR.map((r) => r.ms))),
        unit: 'ms',
        baseline: 'attach to an empty screen (peer: no replay)',
        baseline_value: round(median(emptyR.map((r) => r.ms))),
      });
    });

    // --- memory under flood ---------------------------------------------------------------------
    // `yes` in one pane to a client that acknowledges everything, and in another pane to a client
    // that never acknowledges: that one holds its pane for 5 s at most, then the pane is paced and
    // the client skipped once it is 2 MiB behind (docs/protocol.md, Flow control). So it never
    // sees the prompt after Ctrl-C; a fresh client attached afterwards must.
    await part('flood', async (s) => {
      o.say(`agent memory during a ${o.floodS} s flood (\`yes\` to an acking client, \`yes\` to one that never acks)...`);
      const labF = await s.lab();
      const acking = await s.pane(labF, 'host');
      const stalled = await s.pane(labF, 'container', false);
      const before: number[] = [];
      for (let i = 0; i < 5; i++) {
        before.push(rssMb(agent.pid));
        await sleep(200);
      }
      const samples: number[] = [];
      const b0 = acking.tap.bytes;
      const s0 = stalled.tap.bytes;
      const tF = now();
      acking.input('yes\r');
      stalled.input('yes\r');
      while (now() - tF < o.floodS * 1000) {
        samples.push(rssMb(agent.pid));
        await sleep(250);
      }
      const floodMb = (acking.tap.bytes - b0) / 1e6;
      const neverAckedKib = (stalled.tap.bytes - s0) / 1024;
      const back = acking.tap.expect(PROMPT, CTRL_C_BOUND_MS);
      acking.input('\x03');
      stalled.input('\x03');
      await back;
      // The paced pane stopped too: a client that attaches now sees the shell answer.
      const t0 = now();
      const fresh = await PaneTerm.open(agent, labF, 'container');
      try {
        await fresh.tap.quiet(300, CTRL_C_BOUND_MS);
        const answered = fresh.tap.expect(MARK, CTRL_C_BOUND_MS);
        fresh.input(`${ECHO_MARK}\r`);
        await answered;
      } finally {
        await fresh.close();
      }
      const pacedStopMs = now() - t0;
      const q = Math.max(1, Math.floor(samples.length / 4));
      o.say(
        `  RSS before ${median(before).toFixed(0)} MB; by quarter of the flood (max): ${[0, 1, 2, 3].map((k) => Math.max(...samples.slice(k * q, (k + 1) * q)).toFixed(0)).join(' ')} MB; ` +
          `${(floodMb / o.floodS).toFixed(0)} MB/s to the acking client, ${neverAckedKib.toFixed(0)} KiB to the one that never acks; ` +
          `its paced pane answered a fresh client ${pacedStopMs.toFixed(0)} ms after Ctrl-C`,
      );
      metrics.push({
        name: 'agent_rss_mb_flood',
        value: round(Math.max(...samples)),
        unit: 'MB',
        baseline: 'agent RSS before the flood',
        baseline_value: round(median(before)),
      });
      metrics.push({
        name: 'never_acking_client_kib',
        value: round(neverAckedKib),
        unit: 'KiB',
        baseline: 'what a skipped client may lag (4 x FLOW_HIGH_BYTES)',
        baseline_value: (4 * FLOW_HIGH_BYTES) / 1024,
      });
    });

    // --- labs left running `yes` with nobody attached -------------------------------------------
    // A closed tab leaves its `yes` running: the agent paces such a pane (64 KiB per 250 ms), so
    // it should cost little, and a learner typing next door should not notice.
    await part('unattended', async (s) => {
      o.say(`agent CPU and a neighbour's echo with ${o.unattended} labs running \`yes\` unattended (vs. the same labs idle)...`);
      const labs: string[] = [];
      for (let i = 0; i < o.unattended; i++) labs.push(await s.lab());
      const me = await s.pane(await s.lab(), 'host');
      const window = async (): Promise<{ cpu: number; echo: number[] }> => {
        const c0 = cpuSeconds(agent.pid);
        const t0 = now();
        const echo = await echoLatency(me, Math.max(50, o.echoes));
        if (now() - t0 < 10_000) await sleep(10_000 - (now() - t0));
        return { cpu: ((cpuSeconds(agent.pid) - c0) / ((now() - t0) / 1000)) * 100, echo };
      };
      await echoLatency(me, 20); // warm-up
      const quiet = await window();
      // A learner attaches, types `yes`, sees it pour, and closes the tab.
      for (const lab of labs) {
        const t = await PaneTerm.open(agent, lab, 'host');
        try {
          await t.tap.quiet(200, 10_000);
          const pouring = t.tap.expect('y\r\ny\r\ny\r\n', 10_000);
          t.input('yes\r');
          await pouring;
        } finally {
          await t.close();
        }
      }
      await sleep(2000);
      const busy = await window();
      o.say(
        `  agent CPU ${busy.cpu.toFixed(1)}% (idle labs: ${quiet.cpu.toFixed(1)}%); echo p50 ${median(busy.echo).toFixed(2)} / p99 ${pct(busy.echo, 99).toFixed(2)} ms ` +
          `(idle labs: ${median(quiet.echo).toFixed(2)} / ${pct(quiet.echo, 99).toFixed(2)} ms; target p99 within 2x)`,
      );
      metrics.push({
        name: 'unattended_yes_agent_cpu_percent',
        value: round(busy.cpu),
        unit: '% of a core',
        baseline: `the same ${o.unattended} labs idle`,
        baseline_value: round(quiet.cpu),
      });
      metrics.push({
        name: 'neighbour_echo_ms_p99_unattended',
        value: round(pct(busy.echo, 99)),
        unit: 'ms',
        baseline: 'quiet neighbours',
        baseline_value: round(pct(quiet.echo, 99)),
      });
    });
  } finally {
    await boot?.close();
    await peer?.stop();
    await agent.stop();
  }
  return metrics;
}

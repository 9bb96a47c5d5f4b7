// The streaming group of `npm run bench` (`--only stream`): a pane's output through the agent and
// the WebSocket to a client, against the PTY read directly (the kernel's limit) and against a
// plain node-pty + ws server (the peer, ./peer.ts). The agent and the peer each run as their own
// process, so each has its own event loop and the agent's memory is its own; the clients and the
// raw PTY reader live in this process.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants as fsc, openSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import WebSocket, { type RawData } from 'ws';
import { FRAME_OUTPUT, FRAME_SNAPSHOT, LabInfo, WS_PATH } from '@nslab/shared';
import { AgentClient } from '../cli/client.js';
import { Pty } from '../pty/pty.js';
import { locateBundle } from '../paths.js';
import { median, pct, round, rssMb, sleep, type Metric } from './util.js';

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
  /** Write a CPU profile of the agent into this directory (where does its time go?). */
  profileDir?: string;
  say: (msg: string) => void;
}

const COLS = 100;
const ROWS = 30;
/** A prompt the bench sets in every shell it drives, so it can tell when a command is over. */
const PROMPT = 'nslab-bench> ';
const SET_PROMPT = `PS1='nslab-''bench> '\r`;
/** Printed after each workload; the typed command says `$((40+2))`, so only the output matches. */
const MARK = 'nslab-42-done';
const ECHO_MARK = "echo nslab-$((40+2))-done";

/** One line of the throughput workload: 70 characters, about what a log file or source file has. */
const LINE = 'nslab bench 0123456789: the quick brown fox jumps over the lazy dog ok';

const now = () => performance.now();

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    }),
  ]);
}

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

  /** When `text` appears in output that arrives from now on. */
  expect(text: string, timeoutMs = 30_000): Promise<Seen> {
    let watch!: { text: string; seen: string; done: (s: Seen) => void };
    const p = new Promise<Seen>((done) => {
      watch = { text, seen: '', done };
      this.watches.add(watch);
    });
    return withTimeout(p, timeoutMs, `waiting for "${text}" (${this.bytes} bytes so far)`).finally(() => this.watches.delete(watch));
  }

  /** The next chunk's arrival. */
  next(timeoutMs = 5_000): Promise<Seen> {
    let waiter!: (s: Seen) => void;
    const p = new Promise<Seen>((r) => {
      waiter = r;
      this.chunkWaiters.add(r);
    });
    return withTimeout(p, timeoutMs, 'waiting for output').finally(() => this.chunkWaiters.delete(waiter));
  }

  /** Resolves once nothing has arrived for `ms`. */
  async quiet(ms: number, timeoutMs = 30_000) {
    const deadline = now() + timeoutMs;
    for (;;) {
      const idle = now() - this.lastAt;
      if (idle >= ms) return;
      if (now() > deadline) throw new Error(`output did not stop within ${timeoutMs} ms`);
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
  readonly tap = new Tap();

  private constructor(
    private readonly client: AgentClient,
    readonly lab: string,
    readonly pane: string,
  ) {}

  /** Connect and attach (no `from`: a snapshot, then live output). `ack`: acknowledge every frame. */
  static async open(agent: ChildAgent, lab: string, pane: string, ack = true): Promise<PaneTerm> {
    const client = await agent.connect();
    const t = new PaneTerm(client, lab, pane);
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
      const got = new Promise<{ ms: number; bytes: number }>((resolve) =>
        client.onFrame((f) => {
          if (f.key === key && f.op === FRAME_SNAPSHOT) resolve({ ms: now() - t0, bytes: f.payload.length });
        }),
      );
      t0 = now();
      await client.request({ type: 'attach', lab, pane, cols: COLS, rows: ROWS });
      return await withTimeout(got, 10_000, 'waiting for the snapshot');
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
  readonly tap = new Tap();
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

// --- child processes ---------------------------------------------------------------------------

interface Child {
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Start a bundle; resolve with the first stdout line that `match` accepts. */
function startChild(bundle: string, env: NodeJS.ProcessEnv, match: RegExp, what: string, nodeArgs: string[] = []): Promise<{ child: Child; m: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...nodeArgs, locateBundle(bundle)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let settled = false;
    const timer = setTimeout(() => fail(new Error(`${what} did not start within 30 s: ${err.slice(-2000)}`)), 30_000);
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(e);
    };
    proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
    proc.stdout!.on('data', (d: Buffer) => {
      if (settled) return;
      out += d.toString();
      const m = match.exec(out);
      if (!m) return;
      settled = true;
      clearTimeout(timer);
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      const stop = async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(t);
      };
      resolve({ child: { proc, stop }, m });
    });
    proc.once('exit', (code, sig) => fail(new Error(`${what} exited (${code ?? sig}) before it was ready: ${err.slice(-2000)}`)));
  });
}

export interface ChildAgent extends Child {
  pid: number;
  url: string;
  token: string;
  connect(): Promise<AgentClient>;
}

/** The agent as a child process of the bench (its own event loop and memory), `env` on top. */
export async function startChildAgent(profileDir?: string, extraEnv: Record<string, string> = {}): Promise<ChildAgent> {
  const token = randomBytes(24).toString('hex');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NSLAB_INSTANCE: 'nslabbench',
    NSLAB_STATE_DIR: '/run/nslabbench',
    NSLAB_ID_BASE: '400000000',
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
  return {
    ...child,
    pid: child.proc.pid!,
    url,
    token,
    connect: () => AgentClient.connect({ wsUrl, displayUrl: url, token }),
  };
}

async function startPeer(): Promise<Child & { url: string }> {
  const { child, m } = await startChild('bench-peer.cjs', process.env, /\{"port":(\d+)\}/, 'the peer server');
  return { ...child, url: `ws://127.0.0.1:${m[1]}/` };
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
  const seen = await done.catch((err: Error) => {
    throw new Error(`${t.name}: ${err.message}`);
  });
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
  const tap = new Tap();
  pty.on('data', (chunk) => tap.push(chunk));
  pty.start();
  const slave = openSync(pty.slavePath, fsc.O_RDWR | fsc.O_NOCTTY);
  try {
    const done = tap.expect(MARK, 120_000);
    const t0 = now();
    const child = spawn('/bin/sh', ['-c', `${command}; ${ECHO_MARK}`], { stdio: [slave, slave, slave], detached: true });
    closeSync(slave);
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const seen = await done.catch((err: Error) => {
      throw new Error(`raw PTY: ${err.message}`);
    });
    await exited;
    return { bytes: seen.bytes, ms: seen.at - t0, chunks: tap.chunks };
  } finally {
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
  const prompt = t.tap.expect(PROMPT, 30_000);
  const t0 = now();
  const b0 = t.tap.bytes;
  t.input('\x03');
  await prompt;
  await t.tap.quiet(500);
  return { ms: t.tap.lastAt - t0, bytes: t.tap.bytes - b0 };
}

export async function runStreamBench(o: StreamOptions): Promise<Metric[]> {
  const metrics: Metric[] = [];
  const workload = `yes '${LINE}' | head -n ${o.lines}`;
  o.say('starting an agent and the peer server as child processes...');
  const agent = await startChildAgent(o.profileDir);
  const terms: Term[] = [];
  let peer: (Child & { url: string }) | null = null;
  try {
    peer = await startPeer();
    const boot = await agent.connect();
    const open = async (lesson: string) => LabInfo.parse(await boot.request({ type: 'open', lesson })).id;
    const paneTerm = async (lab: string, pane: string, ack = true) => {
      const t = await PaneTerm.open(agent, lab, pane, ack);
      terms.push(t);
      await ready(t);
      return t;
    };
    const peerTerm = async () => {
      const t = await PeerTerm.open(peer!.url);
      terms.push(t);
      await ready(t);
      return t;
    };

    // --- throughput: the same workload raw, through the agent, through the peer --------------
    o.say(`throughput: \`${workload}\` x${o.rounds} each, raw PTY / agent / peer interleaved...`);
    const labT = await open('uts');
    const nsT = await paneTerm(labT, 'host');
    const peerT = await peerTerm();
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

    // --- keystroke echo -------------------------------------------------------------------------
    o.say(`echo latency x${o.echoes} each...`);
    const nsEcho: number[] = [];
    const peerEcho: number[] = [];
    // In halves, alternating, so that a noisy moment does not land on one side only.
    for (const half of [0, 1]) {
      const n = half ? o.echoes - Math.floor(o.echoes / 2) : Math.floor(o.echoes / 2);
      nsEcho.push(...(await echoLatency(nsT, n)));
      peerEcho.push(...(await echoLatency(peerT, n)));
    }
    metrics.push({ name: 'echo_latency_ms_p50', value: round(pct(nsEcho, 50)), unit: 'ms', baseline: 'peer (node-pty + ws)', baseline_value: round(pct(peerEcho, 50)) });
    metrics.push({ name: 'echo_latency_ms_p99', value: round(pct(nsEcho, 99)), unit: 'ms', baseline: 'peer (node-pty + ws)', baseline_value: round(pct(peerEcho, 99)) });

    // --- Ctrl-C during a flood ------------------------------------------------------------------
    o.say(`Ctrl-C during \`yes\` x${o.ctrlCRuns} each...`);
    const nsStop: { ms: number; bytes: number }[] = [];
    const peerStop: { ms: number; bytes: number }[] = [];
    for (let i = 0; i < o.ctrlCRuns; i++) {
      nsStop.push(await ctrlCStop(nsT));
      peerStop.push(await ctrlCStop(peerT));
    }
    const stops = (xs: { ms: number; bytes: number }[]) => `${xs.map((x) => x.ms.toFixed(0)).join(' ')} ms (${(median(xs.map((x) => x.bytes)) / 1024).toFixed(0)} KiB after Ctrl-C)`;
    o.say(`  agent ${stops(nsStop)} | peer ${stops(peerStop)}`);
    metrics.push({ name: 'ctrl_c_stop_ms', value: round(median(nsStop.map((x) => x.ms))), unit: 'ms', baseline: 'peer (node-pty + ws)', baseline_value: round(median(peerStop.map((x) => x.ms))) });
    for (const t of [nsT, peerT]) await t.close();
    await boot.request({ type: 'close', lab: labT });

    // --- reconnect: attach on a fresh connection until the screen snapshot arrives ------------
    o.say(`reconnect replay x${o.replays} each (full screen and scrollback / empty screen)...`);
    const labR = await open('uts');
    const full = await paneTerm(labR, 'host');
    const FILL = `awk 'BEGIN{for(i=1;i<=5000;i++) printf "\\033[3%dm%05d\\033[0m the quick brown fox jumps over the lazy dog %d\\n", i%8, i, i*i}'`;
    await typedWorkload(full, FILL);
    const empty = await paneTerm(labR, 'container');
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
    for (const t of [full, empty]) await t.close();
    await boot.request({ type: 'close', lab: labR });

    // --- memory under flood ---------------------------------------------------------------------
    o.say(`agent memory during a ${o.floodS} s flood (\`yes\` to an acking client, \`yes\` to one that never acks)...`);
    const labF = await open('uts');
    const acking = await paneTerm(labF, 'host');
    const stalled = await paneTerm(labF, 'container', false);
    const before: number[] = [];
    for (let i = 0; i < 5; i++) {
      before.push(rssMb(agent.pid));
      await sleep(200);
    }
    const samples: number[] = [];
    const b0 = acking.tap.bytes;
    const tF = now();
    acking.input('yes\r');
    stalled.input('yes\r');
    while (now() - tF < o.floodS * 1000) {
      samples.push(rssMb(agent.pid));
      await sleep(250);
    }
    const floodMb = (acking.tap.bytes - b0) / 1e6;
    for (const t of [acking, stalled]) {
      const back = t.tap.expect(PROMPT);
      t.input('\x03');
      if (t === acking) await back;
    }
    const q = Math.max(1, Math.floor(samples.length / 4));
    o.say(
      `  RSS before ${median(before).toFixed(0)} MB; by quarter of the flood (max): ${[0, 1, 2, 3].map((k) => Math.max(...samples.slice(k * q, (k + 1) * q)).toFixed(0)).join(' ')} MB; ` +
        `${(floodMb / o.floodS).toFixed(0)} MB/s to the acking client`,
    );
    metrics.push({ name: 'agent_rss_mb_flood', value: round(Math.max(...samples)), unit: 'MB', baseline: 'agent RSS before the flood', baseline_value: round(median(before)) });
    for (const t of [acking, stalled]) await t.close();
    await boot.request({ type: 'close', lab: labF });
    await boot.close();
  } finally {
    await Promise.all(terms.map((t) => t.close().catch(() => {})));
    await peer?.stop();
    await agent.stop();
  }
  return metrics;
}

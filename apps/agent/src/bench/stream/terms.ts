import WebSocket, { type RawData } from 'ws';
import { FRAME_OUTPUT, FRAME_SNAPSHOT } from '@nslab/shared';
import type { AgentClient } from '../../cli/client.js';
import { sleep, StallError } from '../util.js';
import type { ChildAgent } from '../child.js';

export const COLS = 100;
export const ROWS = 30;
/** A prompt the bench sets in every shell it drives, so it can tell when a command is over. */
export const PROMPT = 'nslab-bench> ';
export const SET_PROMPT = `PS1='nslab-''bench> '\r`;
/** Printed after each workload; the typed command says `$((40+2))`, so only the output matches. */
export const MARK = 'nslab-42-done';
export const ECHO_MARK = 'echo nslab-$((40+2))-done';
/** How long the prompt may take to come back after Ctrl-C before that is a stall (a bound on behaviour). */
export const CTRL_C_BOUND_MS = 15_000;

/** One line of the throughput workload: 70 characters, about what a log file or source file has. */
export const LINE = 'nslab bench 0123456789: the quick brown fox jumps over the lazy dog ok';

export const now = () => performance.now();

export interface Seen {
  at: number;
  /** Bytes received when it was seen. */
  bytes: number;
}

/** A terminal's output as a client receives it: byte count, arrival times, text to wait for. */
export class Tap {
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
export interface Term {
  /** For messages: "agent" or "peer". */
  readonly name: string;
  readonly tap: Tap;
  input(data: string): void;
  close(): Promise<void>;
}

/** A pane of the agent, attached over its own WebSocket connection. */
export class PaneTerm implements Term {
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
export class PeerTerm implements Term {
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
export async function ready(t: Term) {
  await t.tap.quiet(300, 10_000);
  const p = t.tap.expect(PROMPT, 10_000);
  t.input(SET_PROMPT);
  await p;
  await t.tap.quiet(100);
}

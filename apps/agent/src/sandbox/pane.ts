// A pane: one shell with a PTY inside a lab, in the lab's namespaces or in its own made inside
// the lab. The pane owns its PTY and its output stream: every byte the shell prints gets a stream
// offset, goes into a headless screen (exact replay) and a ring of recent bytes (resume), and out
// to whoever listens. Output that arrives in a burst is coalesced into fewer, larger chunks. The
// PTY is read only while nobody holds it back (flow control, a slow screen).
import { EventEmitter } from 'node:events';
import type { PaneDef } from '@nslab/shared';
import type { Pty } from '../pty/pty.js';
import { OutputRing } from '../pty/ring.js';
import { Screen, type Snapshot } from '../pty/screen.js';

/** Recent output kept for clients that reconnect within a moment. */
const RING_BYTES = 256 * 1024;
/** Output within this long of the last chunk is sent together. */
const COALESCE_MS = 4;
const COALESCE_MAX_BYTES = 64 * 1024;
/**
 * A pane that no acknowledging writer paces (nobody attached, or only writers that stopped
 * acknowledging) is read at most this fast: its program blocks in the terminal as it would
 * behind a slow client, and output nobody looks at costs the agent little. 64 KiB per 250 ms.
 */
export const PACE_BYTES = 64 * 1024;
export const PACE_WINDOW_MS = 250;
/** With nobody attached at all, nobody can press Ctrl-C: slower still (8 KiB per window). */
export const PACE_IDLE_BYTES = 8 * 1024;

/** A client stream that may pace the pane (see PaneStream). */
export interface PaneWriter {
  /** It acknowledges what it receives (not stale). */
  readonly acking: boolean;
}

export interface PaneEvents {
  /** Output: `chunk` starts at stream offset `start`. */
  data: [chunk: Buffer, start: number];
  exit: [exitCode: number | null, signal: number | null];
  /** The pane itself is gone from its lab (a builder pane closed): its streams end. */
  removed: [];
  start: [];
  resize: [cols: number, rows: number];
  /** The writers, which of them is in use, or whether one acknowledges, changed. */
  writers: [];
}

export class Pane extends EventEmitter<PaneEvents> {
  pty: Pty | null = null;
  pid: number | null = null;
  running = false;
  exitCode: number | null = null;
  signal: number | null = null;
  cols = 100;
  rows = 30;
  /** performance.now() of the current shell's first output byte (its prompt), for benchmarks. */
  firstOutputAt: number | null = null;
  /** Stream offset just past the last byte sent out. */
  offset = 0;
  private readonly ring = new OutputRing(RING_BYTES);
  private readonly screen: Screen;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private flushTimer: NodeJS.Timeout | null = null;
  private lastFlush = 0;
  /** Whoever wants the PTY not read for now (slow clients, the screen, a snapshot, the pacer). */
  private readonly holds = new Set<object>();
  private readonly screenHold = {};
  /** Writers attached, with when each was last used (typed, focused, attached). */
  private readonly writers = new Map<PaneWriter, number>();
  private readonly pacer = {};
  private paceUsed = 0;
  private paceTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly def: PaneDef,
    scrollback = 1000,
  ) {
    super();
    this.screen = new Screen(this.cols, this.rows, scrollback, () => {
      if (this.screen.caughtUp) this.release(this.screenHold);
    });
  }

  get name(): string {
    return this.def.name;
  }

  /** Attach a freshly started shell. Its output continues the pane's stream. */
  started(pty: Pty, pid: number) {
    this.pty?.close();
    this.pty = pty;
    this.pid = pid;
    this.running = true;
    this.exitCode = this.signal = null;
    this.firstOutputAt = null;
    pty.resize(this.cols, this.rows);
    pty.on('data', (chunk) => {
      this.firstOutputAt ??= performance.now();
      this.collect(chunk);
    });
    if (this.holds.size) pty.pause();
    pty.start();
    this.emit('start');
  }

  private collect(chunk: Buffer) {
    this.pace(chunk.length);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= COALESCE_MAX_BYTES) return this.flush();
    if (this.flushTimer) return;
    const wait = this.lastFlush + COALESCE_MS - performance.now();
    // A keystroke's echo after a quiet moment goes out at once; a burst is gathered.
    if (wait <= 0) return this.flush();
    this.flushTimer = setTimeout(() => this.flush(), wait);
  }

  private flush() {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.lastFlush = performance.now();
    if (!this.pendingBytes) return;
    const chunk = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    const start = this.offset;
    this.offset += chunk.length;
    this.ring.append(chunk);
    this.screen.write(chunk, this.offset);
    if (this.screen.behind) this.hold(this.screenHold);
    this.emit('data', chunk, start);
  }

  /** The output from stream offset `from` on, or null when it is no longer kept. */
  since(from: number): Buffer | null {
    this.flush();
    return this.ring.since(from);
  }

  /** The screen with everything output so far (the PTY is not read meanwhile). */
  snapshot(): Promise<Snapshot> {
    this.flush();
    const token = {};
    this.hold(token);
    return new Promise((resolve) =>
      this.screen.snapshot((snap) => {
        this.release(token);
        resolve(snap);
      }),
    );
  }

  // ---- who paces the pane --------------------------------------------------------------------

  /** A writer attached, or used (typed, focused): flow control follows the one used last. */
  useWriter(w: PaneWriter) {
    this.writers.delete(w);
    this.writers.set(w, performance.now());
    this.writersChanged();
  }

  dropWriter(w: PaneWriter) {
    this.writers.delete(w);
    this.writersChanged();
  }

  /** Call when the writers or their `acking` changed: an acknowledging writer ends pacing. */
  writersChanged() {
    if (!this.paced && this.paceTimer) {
      clearTimeout(this.paceTimer);
      this.paceTimer = null;
      this.paceUsed = 0;
      this.release(this.pacer);
    }
    this.emit('writers');
  }

  /** The writer whose acknowledgements pace the pane: the one used last. */
  get activeWriter(): PaneWriter | null {
    let last: PaneWriter | null = null;
    for (const w of this.writers.keys()) last = w; // insertion order: the last used is last
    return last;
  }

  /** No acknowledging writer is in charge: the pane is read at PACE_BYTES per PACE_WINDOW_MS. */
  get paced(): boolean {
    return !this.activeWriter?.acking;
  }

  private get paceBudget(): number {
    return this.writers.size ? PACE_BYTES : PACE_IDLE_BYTES;
  }

  private pace(bytes: number) {
    if (!this.paced) {
      this.paceUsed = 0;
      return;
    }
    this.paceUsed += bytes;
    if (this.paceUsed < this.paceBudget || this.paceTimer) return;
    this.hold(this.pacer);
    this.paceTimer = setTimeout(() => {
      this.paceTimer = null;
      this.paceUsed = Math.max(0, this.paceUsed - this.paceBudget);
      if (this.paceUsed >= this.paceBudget && this.paced) this.pace(0);
      else this.release(this.pacer);
    }, PACE_WINDOW_MS);
  }

  /** Stop reading the PTY until every holder has released it. */
  hold(holder: object) {
    this.holds.add(holder);
    this.pty?.pause();
  }

  release(holder: object) {
    if (!this.holds.delete(holder)) return;
    if (this.holds.size === 0) this.pty?.resume();
  }

  get paused(): boolean {
    return this.holds.size > 0;
  }

  exited(exitCode: number | null, signal: number | null) {
    if (!this.running) return;
    this.flush();
    this.running = false;
    this.exitCode = exitCode;
    this.signal = signal;
    this.emit('exit', exitCode, signal);
  }

  write(data: string | Buffer) {
    if (this.running) this.pty?.write(data);
  }

  /**
   * A line from nslab itself in the pane's output (a lab about to close, a limit hit). It goes
   * into the stream like shell output, so every client and every later replay shows it.
   */
  notice(text: string) {
    this.collect(Buffer.from(`\r\n\x1b[1;33m[nslab] ${text}\x1b[0m\r\n`));
    this.flush();
  }

  resize(cols: number, rows: number) {
    if (cols === this.cols && rows === this.rows) return;
    this.flush();
    this.cols = cols;
    this.rows = rows;
    this.screen.resize(cols, rows);
    try {
      this.pty?.resize(cols, rows);
    } catch {
      /* the terminal is gone */
    }
    this.emit('resize', cols, rows);
  }

  close() {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (this.paceTimer) clearTimeout(this.paceTimer);
    this.paceTimer = null;
    this.pty?.close();
    this.pty = null;
    this.running = false;
    this.screen.dispose();
  }

  info() {
    return {
      name: this.name,
      unshare: [...this.def.unshare],
      ...(this.def.built ? { built: { ...this.def.built } } : {}),
      running: this.running,
      pid: this.pid,
      exitCode: this.exitCode,
      signal: this.signal,
    };
  }
}

// A pane: one shell with a PTY inside a lab, in the lab's namespaces or in its own made inside
// the lab. The pane owns its PTY and its output stream: every byte the shell prints gets a stream
// offset, goes into a headless screen (exact replay) and a ring of recent bytes (resume), and out
// to whoever listens. Output that arrives in a burst is coalesced into fewer, larger chunks. The
// PTY is read only while nobody holds it back (flow control, a slow screen).
import { EventEmitter } from 'node:events';
import type { PaneDef } from '@nslab/shared';
import { Pty } from '../pty/pty.js';
import { OutputRing } from '../pty/ring.js';
import { Screen, type Snapshot } from '../pty/screen.js';

/** Recent output kept for clients that reconnect within a moment. */
const RING_BYTES = 256 * 1024;
/** Output within this long of the last chunk is sent together. */
const COALESCE_MS = 4;
const COALESCE_MAX_BYTES = 64 * 1024;

export interface PaneEvents {
  /** Output: `chunk` starts at stream offset `start`. */
  data: [chunk: Buffer, start: number];
  exit: [exitCode: number | null, signal: number | null];
  start: [];
  resize: [cols: number, rows: number];
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
  /** Whoever wants the PTY not read for now (slow clients, the screen, a snapshot). */
  private readonly holds = new Set<object>();
  private readonly screenHold = {};

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
    this.pty?.close();
    this.pty = null;
    this.running = false;
    this.screen.dispose();
  }

  info() {
    return {
      name: this.name,
      unshare: [...this.def.unshare],
      running: this.running,
      pid: this.pid,
      exitCode: this.exitCode,
      signal: this.signal,
    };
  }
}

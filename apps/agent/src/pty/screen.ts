// A pane's screen as a terminal would show it: every output byte goes through a headless xterm.js
// (in the screen worker, off the agent's event loop), so a client that attaches (a reload, a
// second tab, a viewer) gets the exact screen, including full-screen programs on the alternate
// buffer, their modes and the cursor, as one snapshot.
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { locateBundle } from '../paths.js';
import type { FromScreenWorker, ToScreenWorker } from './screen-messages.js';

export interface Snapshot {
  /** Escape sequences that redraw the screen in a fresh terminal of cols x rows. */
  screen: string;
  /** The stream offset the snapshot shows: every byte before it, none after. */
  offset: number;
  cols: number;
  rows: number;
}

/** Output a screen may have waiting to be parsed before its pane stops reading... */
const SCREEN_BACKLOG_BYTES = 32 * 1024 * 1024;
/** ...and all screens together, past which any screen more than 1 MiB behind waits. */
const TOTAL_BACKLOG_BYTES = 96 * 1024 * 1024;
const SMALL_BACKLOG_BYTES = 1024 * 1024;
/** The worker stops when no screen has been open for this long. */
const IDLE_STOP_MS = 30_000;

/** The one worker that holds every screen of this agent, started with the first screen. */
class ScreenWorker {
  private worker: Worker | null = null;
  private nextId = 1;
  private nextReq = 1;
  private readonly screens = new Map<number, Screen>();
  private readonly snapshots = new Map<number, { at: number; done: (s: Snapshot) => void }>();
  private idleTimer: NodeJS.Timeout | null = null;
  /** Bytes written and not yet parsed, over every screen. */
  backlog = 0;

  register(screen: Screen, cols: number, rows: number, scrollback: number): number {
    const id = this.nextId++;
    this.screens.set(id, screen);
    this.post({ op: 'open', id, cols, rows, scrollback });
    return id;
  }

  unregister(id: number) {
    this.screens.delete(id);
    this.post({ op: 'close', id });
    // An agent with no pane for a while does not keep a thread for them; one that closes a lab
    // and opens the next does not start a new thread each time.
    if (this.screens.size === 0 && !this.idleTimer) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        if (this.screens.size === 0) this.stop();
      }, IDLE_STOP_MS);
      this.idleTimer.unref();
    }
  }

  snapshot(id: number, at: number, done: (s: Snapshot) => void) {
    const req = this.nextReq++;
    this.snapshots.set(req, { at, done });
    this.post({ op: 'snapshot', id, req });
  }

  post(msg: ToScreenWorker) {
    this.start().postMessage(msg);
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const file = locateBundle('screen-worker.cjs');
    if (!existsSync(file)) throw new Error(`the screen worker bundle is missing (${file}); run \`npm run build\``);
    const worker = new Worker(file, { execArgv: [], stdout: false, stderr: false });
    worker.unref();
    worker.on('message', (msg: FromScreenWorker) => this.onMessage(msg));
    worker.on('error', (err) => {
      // Screens are lost, terminals are not: clients get their snapshot from a fresh screen of
      // the output that follows, and live output never depended on the worker.
      process.stderr.write(`nslab: the screen worker failed: ${err.message}\n`);
    });
    worker.on('exit', () => {
      if (this.worker !== worker) return;
      this.worker = null;
      for (const [req, s] of this.snapshots) {
        this.snapshots.delete(req);
        s.done({ screen: '', offset: s.at, cols: 0, rows: 0 });
      }
      for (const [id, screen] of [...this.screens]) screen.reopen(id);
    });
    this.worker = worker;
    return worker;
  }

  private stop() {
    const w = this.worker;
    this.worker = null;
    void w?.terminate();
  }

  private onMessage(msg: FromScreenWorker) {
    if (msg.op === 'parsed') {
      for (const [id, offset] of msg.parsed) this.screens.get(id)?.parsedTo(offset);
    } else {
      const s = this.snapshots.get(msg.req);
      this.snapshots.delete(msg.req);
      s?.done({ screen: msg.screen, offset: s.at, cols: msg.cols, rows: msg.rows });
    }
  }
}

const worker = new ScreenWorker();

export class Screen {
  private id: number;
  /** Stream offset of the bytes handed to the worker, and of those it has parsed. */
  private written = 0;
  private parsed = 0;
  private disposed = false;

  constructor(
    private cols: number,
    private rows: number,
    private readonly scrollback: number,
    /** Called when parsing progresses (to resume a paused reader). */
    private readonly onParsed: () => void,
  ) {
    this.id = worker.register(this, cols, rows, scrollback);
  }

  /** Bytes written but not yet parsed. */
  get backlog(): number {
    return this.written - this.parsed;
  }

  /** Too far behind: the pane should stop reading until parsing catches up... */
  get behind(): boolean {
    const b = this.backlog;
    return b > SCREEN_BACKLOG_BYTES || (b > SMALL_BACKLOG_BYTES && worker.backlog > TOTAL_BACKLOG_BYTES);
  }

  /** ...which is when it is half way back under both limits. */
  get caughtUp(): boolean {
    const b = this.backlog;
    return b <= SCREEN_BACKLOG_BYTES / 2 && (b <= SMALL_BACKLOG_BYTES || worker.backlog <= TOTAL_BACKLOG_BYTES / 2);
  }

  /** Feed the bytes that end at stream offset `end`. */
  write(chunk: Buffer, end: number) {
    if (this.disposed) return;
    worker.backlog += end - this.written;
    this.written = end;
    worker.post({ op: 'write', id: this.id, data: chunk, end });
  }

  parsedTo(offset: number) {
    if (offset <= this.parsed) return;
    worker.backlog -= offset - this.parsed;
    this.parsed = offset;
    this.onParsed();
  }

  resize(cols: number, rows: number) {
    if (this.disposed || (cols === this.cols && rows === this.rows)) return;
    this.cols = cols;
    this.rows = rows;
    worker.post({ op: 'resize', id: this.id, cols, rows });
  }

  /** The screen once everything written so far is parsed: nothing written later is in it. */
  snapshot(done: (snap: Snapshot) => void) {
    // A closed pane's screen answers blank at once: an attach racing a lab's close must not hang.
    if (this.disposed) return done({ screen: '', offset: this.written, cols: this.cols, rows: this.rows });
    // A worker that died meanwhile answers with no screen: then a blank one of the pane's size.
    worker.snapshot(this.id, this.written, (snap) => done(snap.cols ? snap : { ...snap, cols: this.cols, rows: this.rows }));
  }

  /** The worker was replaced: start again from an empty screen of the same size. */
  reopen(oldId: number) {
    if (this.disposed) return;
    worker.backlog -= this.backlog;
    this.parsed = this.written;
    worker.unregister(oldId);
    this.id = worker.register(this, this.cols, this.rows, this.scrollback);
    this.onParsed();
  }

  dispose() {
    if (this.disposed) return;
    this.disposed = true;
    worker.backlog -= this.backlog;
    worker.unregister(this.id);
  }
}

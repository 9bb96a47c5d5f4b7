// A pane: one shell with a PTY inside a lab, in the lab's namespaces or in its own made inside
// the lab. The pane owns its PTY; the lab owns the pane.
import { EventEmitter } from 'node:events';
import type { PaneDef } from '@nslab/shared';
import { Pty } from '../pty/pty.js';

const HISTORY_BYTES = 256 * 1024;

export interface PaneEvents {
  data: [chunk: Buffer];
  exit: [exitCode: number | null, signal: number | null];
  start: [];
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
  /** The latest output (at most HISTORY_BYTES), replayed to a client that attaches. */
  private history: Buffer[] = [];
  private historyBytes = 0;

  constructor(readonly def: PaneDef) {
    super();
  }

  get name(): string {
    return this.def.name;
  }

  /** Attach a freshly started shell. */
  started(pty: Pty, pid: number) {
    this.pty?.close();
    this.pty = pty;
    this.pid = pid;
    this.running = true;
    this.exitCode = this.signal = null;
    this.firstOutputAt = null;
    this.history = [];
    this.historyBytes = 0;
    pty.on('data', (chunk) => {
      this.firstOutputAt ??= performance.now();
      this.remember(chunk);
      this.emit('data', chunk);
    });
    pty.start();
    this.emit('start');
  }

  private remember(chunk: Buffer) {
    this.history.push(chunk);
    this.historyBytes += chunk.length;
    while (this.historyBytes > HISTORY_BYTES && this.history.length > 1) this.historyBytes -= this.history.shift()!.length;
  }

  /** What the shell printed lately, for a client that attaches now. */
  recentOutput(): Buffer {
    return Buffer.concat(this.history);
  }

  exited(exitCode: number | null, signal: number | null) {
    if (!this.running) return;
    this.running = false;
    this.exitCode = exitCode;
    this.signal = signal;
    this.emit('exit', exitCode, signal);
  }

  write(data: string) {
    if (this.running) this.pty?.write(data);
  }

  resize(cols: number, rows: number) {
    this.cols = cols;
    this.rows = rows;
    try {
      this.pty?.resize(cols, rows);
    } catch {
      /* the terminal is gone */
    }
  }

  close() {
    this.pty?.close();
    this.pty = null;
    this.running = false;
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

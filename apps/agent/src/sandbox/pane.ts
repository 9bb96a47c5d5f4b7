// A pane: one shell with a PTY inside a lab, in the lab's namespaces or in its own made inside
// the lab. The pane owns its PTY; the lab owns the pane.
import { EventEmitter } from 'node:events';
import type { PaneDef } from '@nslab/shared';
import { Pty } from '../pty/pty.js';

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
    pty.on('data', (chunk) => {
      this.firstOutputAt ??= performance.now();
      this.emit('data', chunk);
    });
    pty.start();
    this.emit('start');
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

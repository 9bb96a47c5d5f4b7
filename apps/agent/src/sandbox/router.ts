// Routes the spawner's per-process events (exit, captured output) to whoever started the process.
import type { SpawnerClient } from './spawner-client.js';

type ExitFn = (exitCode: number | null, signal: number | null) => void;
/** `chunk` null: the spawner cut that stream at its limit. */
type OutFn = (fd: 1 | 2, chunk: Buffer | null) => void;

export class ProcessRouter {
  private exits = new Map<number, ExitFn>();
  private outputs = new Map<number, OutFn>();
  /** Exits that arrived before anyone asked (a process that ended at once). */
  private early = new Map<number, [number | null, number | null]>();
  /** Output that arrived in the same read as the spawn reply, before its owner registered. */
  private earlyOut = new Map<number, Array<[1 | 2, Buffer | null]>>();

  constructor(spawner: SpawnerClient) {
    spawner.on('exit', (pid, code, sig) => {
      const fn = this.exits.get(pid);
      this.exits.delete(pid);
      this.outputs.delete(pid);
      if (fn) {
        this.earlyOut.delete(pid);
        fn(code, sig);
      } else {
        this.early.set(pid, [code, sig]);
        if (this.early.size > 1024) this.early.delete(this.early.keys().next().value!);
      }
    });
    // A new spawner's children have nothing to do with the old one's: forget them all.
    spawner.on('died', () => {
      this.exits.clear();
      this.outputs.clear();
      this.early.clear();
      this.earlyOut.clear();
    });
    const route = (pid: number, fd: 1 | 2, data: Buffer | null) => {
      const fn = this.outputs.get(pid);
      if (fn) return fn(fd, data);
      const list = this.earlyOut.get(pid) ?? [];
      list.push([fd, data]);
      this.earlyOut.set(pid, list);
      if (this.earlyOut.size > 256) this.earlyOut.delete(this.earlyOut.keys().next().value!);
    };
    spawner.on('out', route);
    spawner.on('eof', (pid, fd, truncated) => {
      if (truncated) route(pid, fd, null);
    });
  }

  onExit(pid: number, fn: ExitFn) {
    const seen = this.early.get(pid);
    if (seen) {
      this.early.delete(pid);
      queueMicrotask(() => fn(...seen));
    } else this.exits.set(pid, fn);
  }

  onOutput(pid: number, fn: OutFn) {
    this.outputs.set(pid, fn);
    const pending = this.earlyOut.get(pid);
    if (pending) {
      this.earlyOut.delete(pid);
      for (const [fd, chunk] of pending) fn(fd, chunk);
    }
  }
}

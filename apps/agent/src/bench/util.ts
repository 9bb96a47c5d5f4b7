// What the benchmark groups share: the metric record, percentiles, process memory.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface Metric {
  name: string;
  value: number;
  unit: string;
  baseline?: string;
  baseline_value?: number;
}

export function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

export const median = (xs: number[]) => pct(xs, 50);
export const round = (x: number) => Math.round(x * 100) / 100;
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resident memory of a process (MB). */
export function rssMb(pid: number | 'self'): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

/** A workload that waited for something that never came: whose, what, and how far it got. */
export interface Stall {
  /** The client (and pane) that waited. */
  who: string;
  /** What it waited for. */
  what: string;
  /** Bytes it had received on that pane (or connection) when it gave up. */
  bytes: number;
  /** How long it waited (ms). */
  ms: number;
}

export class StallError extends Error {
  constructor(readonly stall: Stall) {
    super(`${stall.who}: ${stall.what}: nothing within ${Math.round(stall.ms)} ms (${stall.bytes} bytes so far)`);
    this.name = 'StallError';
  }
}

/** What went wrong in a run without ending it: stalls and unexpected errors, by group. */
export interface Findings {
  stalls: Stall[];
  errors: string[];
}

/**
 * Run one part of a group: a stall is recorded as a stall, any other error as an error, and the
 * run goes on with the next part.
 */
export async function section<T>(f: Findings, name: string, say: (msg: string) => void, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StallError) {
      f.stalls.push(err.stall);
      say(`  ${name}: STALL: ${err.message}`);
    } else {
      const e = err as Error;
      f.errors.push(`${name}: ${e.message}`);
      say(`  ${name}: ERROR: ${e.stack ?? e.message}`);
    }
    return undefined;
  }
}

/** CPU time a process has used (user + system, all its threads), in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
}
/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

/** Open file descriptors of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** A process's descriptors by what they are ("pipe", "socket", "anon_inode:[eventfd]", a path). */
export function fdKinds(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const kind = target.replace(/^(pipe|socket):\[\d+\]$/, '$1').replace(/\/\d+$/, '/N');
    out.set(kind, (out.get(kind) ?? 0) + 1);
  }
  return out;
}

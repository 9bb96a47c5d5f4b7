// What the benchmark groups share: the metric record, percentiles, process memory.
import { readFileSync } from 'node:fs';

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

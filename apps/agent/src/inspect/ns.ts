// Reading what the kernel says about a process's namespaces.
import { readlinkSync, readFileSync } from 'node:fs';
import { NAMESPACES, NAMESPACE_TYPES, type NamespaceType } from '@nslab/shared';

/** The inode of one namespace of a process, e.g. 4026531838, from /proc/PID/ns/TYPE. */
export function nsInode(pid: number | 'self', type: NamespaceType): number {
  const link = readlinkSync(`/proc/${pid}/ns/${NAMESPACES[type].procName}`);
  const m = /\[(\d+)\]/.exec(link);
  if (!m) throw new Error(`unexpected namespace link ${link}`);
  return Number(m[1]);
}

export function nsInodes(pid: number | 'self'): Record<NamespaceType, number> {
  const out = {} as Record<NamespaceType, number>;
  for (const t of NAMESPACE_TYPES) out[t] = nsInode(pid, t);
  return out;
}

/** NSpid: the process's pid in each PID namespace it belongs to, outermost first. */
export function nsPids(pid: number): number[] {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('NSpid:'));
  return line ? line.slice(6).trim().split(/\s+/).map(Number) : [pid];
}

/** Real uid of a process as the host sees it. */
export function hostUid(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Uid:'));
  return Number(line!.split(/\s+/)[1]);
}

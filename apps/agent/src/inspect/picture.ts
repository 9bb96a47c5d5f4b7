// The namespace picture of a lab: every process in it, its pid at each PID-namespace level from
// the lab's down, its eight namespaces, and the pane it belongs to. Read from /proc.
import { readFileSync } from 'node:fs';
import { NAMESPACE_TYPES, type NamespaceType, type Picture } from '@nslab/shared';
import { nsInodes } from './ns.js';
import { readFacts } from './facts.js';
/** What the picture needs of a lab (the sandbox's Lab is one). */
export interface PictureSubject {
  readonly initPid: number;
  readonly uidBase: number;
  /** Host pids of the lab's processes. */
  pids(): number[];
  readonly panes: ReadonlyMap<string, { readonly name: string; readonly pid: number | null; readonly running: boolean }>;
}

interface Proc {
  hostPid: number;
  hostPpid: number;
  comm: string;
  nspid: number[];
}

/**
 * The name to show: the kernel's (the program file's) unless the process was started under a name
 * of nslab's own (the lab's init is `sleep` run as "nslab-init").
 */
function shownName(pid: number, comm: string): string {
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0')[0] ?? '';
    if (/^nslab-[a-z]+$/.test(argv0)) return argv0;
  } catch {
    /* gone */
  }
  return comm;
}

function readProc(pid: number): Proc | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => new RegExp(`\\n?${name}:\\s*([^\\n]*)`).exec(status)?.[1]?.trim() ?? '';
    if (/^Z/.test(field('State'))) return null;
    return {
      hostPid: pid,
      hostPpid: Number(field('PPid')),
      comm: shownName(pid, field('Name')),
      nspid: field('NSpid').split(/\s+/).map(Number),
    };
  } catch {
    return null;
  }
}

/** The picture, with what each namespace holds (see facts.ts). */
export async function takePictureWithFacts(lab: PictureSubject): Promise<Picture> {
  const { picture, hostPids } = collect(lab);
  // One process of the lab per namespace: the facts of a namespace are read through it.
  const members = new Map<NamespaceType, Map<number, number>>(NAMESPACE_TYPES.map((t) => [t, new Map()]));
  picture.processes.forEach((p, i) => {
    for (const t of NAMESPACE_TYPES) if (!members.get(t)!.has(p.ns[t])) members.get(t)!.set(p.ns[t], hostPids[i]!);
  });
  picture.facts = await readFacts({ initPid: lab.initPid, uidBase: lab.uidBase, members });
  return picture;
}

export function takePicture(lab: PictureSubject): Picture {
  return collect(lab).picture;
}

/** The picture without facts, and the host pid of each of its processes (same order). */
function collect(lab: PictureSubject): { picture: Picture; hostPids: number[] } {
  const procs = new Map<number, Proc>();
  for (const pid of lab.pids()) {
    const p = readProc(pid);
    // Only processes inside the lab's PID namespace (the anchor and transient joiners are not).
    if (p && p.nspid.length >= 2) procs.set(pid, p);
  }
  const paneOf = new Map<number, string>();
  for (const pane of lab.panes.values()) if (pane.pid && pane.running) paneOf.set(pane.pid, pane.name);
  const findPane = (hostPid: number): string | null => {
    for (let pid = hostPid, hops = 0; pid > 1 && hops < 64; hops++) {
      const name = paneOf.get(pid);
      if (name) return name;
      const p = procs.get(pid);
      if (!p) return null;
      pid = p.hostPpid;
    }
    return null;
  };
  const processes: Array<Picture['processes'][number] & { hostPid: number }> = [];
  for (const p of procs.values()) {
    let ns: Record<(typeof NAMESPACE_TYPES)[number], number>;
    try {
      ns = nsInodes(p.hostPid);
    } catch {
      continue; // exited meanwhile
    }
    const parent = procs.get(p.hostPpid);
    processes.push({
      pid: p.nspid[1]!,
      ppid: parent ? parent.nspid[1]! : 0,
      comm: p.comm,
      nspid: p.nspid.slice(1),
      ns,
      pane: findPane(p.hostPid),
      hostPid: p.hostPid,
    });
  }
  processes.sort((a, b) => a.pid - b.pid);
  const hostPids = processes.map((p) => p.hostPid);
  const panes = [...lab.panes.values()].map((pane) => {
    const p = pane.pid && pane.running ? procs.get(pane.pid) : undefined;
    return { name: pane.name, pid: p ? p.nspid[1]! : null };
  });
  return { picture: { lab: nsInodes(lab.initPid), processes: processes.map(({ hostPid: _, ...p }) => p), panes }, hostPids };
}

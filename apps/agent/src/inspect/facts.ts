// What each namespace of a lab holds, as the kernel says (NsFacts in the shared protocol). Host
// names, IPC objects, network devices and cgroup paths are read from inside the namespace by
// the facts worker (facts-worker.ts); id maps and clock offsets from the host's /proc here.
import { Worker } from 'node:worker_threads';
import { existsSync, readFileSync, openSync, closeSync, fstatSync } from 'node:fs';
import type { NamespaceType, NsFacts } from '@nslab/shared';
import { sys } from '../native/sys.js';
import { locateBundle } from '../paths.js';
import type { CgroupRead, FactsReply, FactsRequest, IpcRead, NetRead, UtsRead } from './facts-messages.js';

const WORKER_TIMEOUT_MS = 2000;
const IDLE_STOP_MS = 30_000;

/** The one facts worker of the agent, started on first use and stopped when idle. */
class FactsWorker {
  private worker: Worker | null = null;
  private nextReq = 1;
  private readonly pending = new Map<number, { done: (r: Array<unknown | null> | null) => void; timer: NodeJS.Timeout }>();
  private idle: NodeJS.Timeout | null = null;

  read(items: FactsRequest['items']): Promise<Array<unknown | null> | null> {
    if (!items.length) return Promise.resolve([]);
    const w = this.start();
    if (!w) return Promise.resolve(null);
    const req = this.nextReq++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(req);
        resolve(null);
      }, WORKER_TIMEOUT_MS);
      this.pending.set(req, { done: resolve, timer });
      w.postMessage({ req, items } satisfies FactsRequest);
      this.touch();
    });
  }

  private touch() {
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      const w = this.worker;
      this.worker = null;
      void w?.terminate();
    }, IDLE_STOP_MS);
    this.idle.unref();
  }

  private start(): Worker | null {
    if (this.worker) return this.worker;
    const file = locateBundle('facts-worker.cjs');
    if (!existsSync(file)) return null;
    const worker = new Worker(file, { execArgv: [], stdout: false, stderr: false });
    worker.unref();
    worker.on('message', (m: FactsReply) => {
      const p = this.pending.get(m.req);
      if (!p) return;
      this.pending.delete(m.req);
      clearTimeout(p.timer);
      p.done(m.results);
    });
    worker.on('error', () => {});
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = null;
      for (const [req, p] of this.pending) {
        this.pending.delete(req);
        clearTimeout(p.timer);
        p.done(null);
      }
    });
    this.worker = worker;
    return worker;
  }
}

const worker = new FactsWorker();

interface IdLine {
  inside: number;
  outside: number;
  count: number;
}

function readMap(pid: number, which: 'uid_map' | 'gid_map'): IdLine[] | null {
  try {
    return readFileSync(`/proc/${pid}/${which}`, 'latin1')
      .trim()
      .split('\n')
      .filter(Boolean)
      .slice(0, 340)
      .map((l) => {
        const [inside, outside, count] = l.trim().split(/\s+/).map(Number);
        return { inside: inside!, outside: outside!, count: count! };
      });
  } catch {
    return null;
  }
}

/** The inode of the parent of a process's user namespace. */
function userParent(pid: number): number | null {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/ns/user`, 'r');
  } catch {
    return null;
  }
  try {
    const parent = sys.nsParent(fd);
    try {
      return fstatSync(parent).ino;
    } finally {
      closeSync(parent);
    }
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** Host-relative ids of a map, in the coordinates of the parent's (host-relative) map. */
function relativeTo(map: IdLine[], parent: IdLine[]): IdLine[] {
  return map.map((l) => {
    const p = parent.find((q) => l.outside >= q.outside && l.outside < q.outside + q.count);
    return p ? { ...l, outside: p.inside + (l.outside - p.outside) } : l;
  });
}

function readOffsets(pid: number): { monotonic: number; boottime: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/timens_offsets`, 'latin1');
    const secs = (name: string) => Number(new RegExp(`^${name}\\s+(-?\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { monotonic: secs('monotonic'), boottime: secs('boottime') };
  } catch {
    return null;
  }
}

function hostCgroupPaths(pid: number): Record<string, string> | null {
  try {
    const out: Record<string, string> = {};
    for (const line of readFileSync(`/proc/${pid}/cgroup`, 'latin1').trim().split('\n')) {
      const a = line.indexOf(':');
      const b = line.indexOf(':', a + 1);
      if (a >= 0 && b >= 0) out[line.slice(0, a)] = line.slice(b + 1);
    }
    return out;
  } catch {
    return null;
  }
}

/** The cgroup that is "/" in a namespace: the host path less the path seen from inside. */
function cgroupRoot(host: string, inside: string): string {
  if (inside === '/') return host;
  return host.endsWith(inside) ? host.slice(0, host.length - inside.length) || '/' : host;
}

export interface FactsInput {
  /** Host pid of the lab's init (its namespaces are the lab's). */
  initPid: number;
  /** The lab's host uid base, to show IPC owners as the lab sees them. */
  uidBase: number;
  /** One host pid per namespace: type -> inode -> pid. */
  members: Map<NamespaceType, Map<number, number>>;
}

export async function readFacts(input: FactsInput): Promise<NsFacts> {
  const facts: NsFacts = {};
  const items: FactsRequest['items'] = [];
  for (const type of ['uts', 'ipc', 'net', 'cgroup'] as const) {
    for (const [inode, pid] of input.members.get(type) ?? []) items.push({ type, inode, pid });
  }
  // The lab's own cgroup namespace, for the roots' common prefix.
  items.push({ type: 'cgroup', inode: -1, pid: input.initPid });
  const results = (await worker.read(items)) ?? [];
  const cgroupInside = new Map<number, CgroupRead>();
  items.forEach((item, i) => {
    const r = results[i];
    if (!r) return;
    const key = String(item.inode);
    if (item.type === 'uts') (facts.uts ??= {})[key] = { hostname: (r as UtsRead).hostname.slice(0, 64), domainname: (r as UtsRead).domainname.slice(0, 64) };
    else if (item.type === 'ipc') {
      const objects = (r as IpcRead).objects.map((o) => ({ ...o, owner: o.owner >= input.uidBase ? o.owner - input.uidBase : o.owner }));
      (facts.ipc ??= {})[key] = { objects };
    } else if (item.type === 'net') {
      (facts.net ??= {})[key] = { devices: (r as NetRead).devices.map((d) => ({ ...d, name: d.name.slice(0, 15) })) };
    } else if (item.type === 'cgroup') cgroupInside.set(item.inode, r as CgroupRead);
  });

  // Cgroup roots, as the lab's own cgroup namespace names them.
  const labHost = hostCgroupPaths(input.initPid);
  const labInside = cgroupInside.get(-1);
  if (labHost && labInside) {
    // A hierarchy where the lab has a cgroup of its own (not the host's root).
    const hid = Object.keys(labHost).find((h) => labHost[h] !== '/' && labInside.paths[h] !== undefined);
    if (hid) {
      const labRoot = cgroupRoot(labHost[hid]!, labInside.paths[hid]!);
      for (const [inode, pid] of input.members.get('cgroup') ?? []) {
        const inside = cgroupInside.get(inode);
        const host = hostCgroupPaths(pid);
        if (!inside || !host || host[hid] === undefined || inside.paths[hid] === undefined) continue;
        const root = cgroupRoot(host[hid]!, inside.paths[hid]!);
        const rel = root === labRoot ? '/' : root.startsWith(`${labRoot}/`) ? root.slice(labRoot.length) : root;
        (facts.cgroup ??= {})[String(inode)] = { root: rel };
      }
    }
  }

  // Clock offsets and id maps, from the host's /proc.
  for (const [inode, pid] of input.members.get('time') ?? []) {
    const o = readOffsets(pid);
    if (o) (facts.time ??= {})[String(inode)] = o;
  }
  const users = input.members.get('user') ?? new Map<number, number>();
  const maps = new Map<number, { uid: IdLine[]; gid: IdLine[]; parent: number | null }>();
  for (const [inode, pid] of users) {
    const uid = readMap(pid, 'uid_map');
    const gid = readMap(pid, 'gid_map');
    if (uid && gid) maps.set(inode, { uid, gid, parent: userParent(pid) });
  }
  for (const [inode, m] of maps) {
    const parent = m.parent !== null ? maps.get(m.parent) : undefined;
    (facts.user ??= {})[String(inode)] = {
      uidMap: parent ? relativeTo(m.uid, parent.uid) : m.uid,
      gidMap: parent ? relativeTo(m.gid, parent.gid) : m.gid,
      parent: parent ? m.parent : null,
    };
  }
  return facts;
}

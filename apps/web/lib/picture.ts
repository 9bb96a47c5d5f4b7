// Turns the agent's Picture (every process of a lab with its namespace inodes) into what the
// namespace diagram draws. Pure: no DOM, no React.
import { NAMESPACE_TYPES, type NamespaceType, type Picture } from '@nslab/shared';

export type Proc = Picture['processes'][number];

export interface NsBox {
  type: NamespaceType;
  inode: number;
  /** The lab's own namespace of this type (its init's). */
  isLab: boolean;
  procs: Proc[];
  /** Pane names whose processes live here (in order of the lab's panes). */
  panes: string[];
  /** Pane names whose shell itself lives here. */
  shells: string[];
}

export interface NsRow {
  type: NamespaceType;
  highlighted: boolean;
  boxes: NsBox[];
  /** true when the shells of all panes are in one namespace of this type. */
  shared: boolean;
}

export function shellPids(p: Picture): Map<string, number> {
  const m = new Map<string, number>();
  for (const pane of p.panes) if (pane.pid !== null) m.set(pane.name, pane.pid);
  return m;
}

export function nsRows(p: Picture, highlight: readonly NamespaceType[]): NsRow[] {
  const paneOrder = p.panes.map((x) => x.name);
  const shells = shellPids(p);
  const shellPane = new Map([...shells].map(([name, pid]) => [pid, name]));
  const types = [...highlight.filter((t) => NAMESPACE_TYPES.includes(t)), ...NAMESPACE_TYPES.filter((t) => !highlight.includes(t))];
  return types.map((type) => {
    const byInode = new Map<number, NsBox>();
    for (const proc of p.processes) {
      const inode = proc.ns[type];
      let box = byInode.get(inode);
      if (!box) {
        box = { type, inode, isLab: inode === p.lab[type], procs: [], panes: [], shells: [] };
        byInode.set(inode, box);
      }
      box.procs.push(proc);
      if (proc.pane && !box.panes.includes(proc.pane)) box.panes.push(proc.pane);
      const sp = shellPane.get(proc.pid);
      if (sp && !box.shells.includes(sp)) box.shells.push(sp);
    }
    if (!byInode.has(p.lab[type])) byInode.set(p.lab[type], { type, inode: p.lab[type], isLab: true, procs: [], panes: [], shells: [] });
    const rank = (b: NsBox) => {
      if (b.isLab) return -1;
      const i = Math.min(...b.shells.map((s) => paneOrder.indexOf(s)).filter((x) => x >= 0), 99);
      return i * 1e7 + Math.min(...b.procs.map((x) => x.pid), 1e7 - 1);
    };
    const boxes = [...byInode.values()].sort((a, b) => rank(a) - rank(b));
    for (const b of boxes) {
      b.panes.sort((x, y) => paneOrder.indexOf(x) - paneOrder.indexOf(y));
      b.shells.sort((x, y) => paneOrder.indexOf(x) - paneOrder.indexOf(y));
    }
    const shellInodes = new Set(
      p.panes
        .filter((x) => x.pid !== null)
        .map((x) => p.processes.find((q) => q.pid === x.pid)?.ns[type])
        .filter((x) => x !== undefined),
    );
    return { type, highlighted: highlight.includes(type), boxes, shared: shellInodes.size <= 1 };
  });
}

/** A PID namespace and the processes whose innermost PID namespace it is, nested as the kernel nests them. */
export interface PidNode {
  inode: number;
  /** 0 for the lab's PID namespace, 1 for a child, and so on. */
  depth: number;
  procs: Proc[];
  children: PidNode[];
}

export function pidTree(p: Picture): PidNode {
  const byPid = new Map(p.processes.map((x) => [x.pid, x]));
  const nodes = new Map<number, PidNode>();
  const root: PidNode = { inode: p.lab.pid, depth: 0, procs: [], children: [] };
  nodes.set(root.inode, root);
  const node = (inode: number, depth: number) => {
    let n = nodes.get(inode);
    if (!n) {
      n = { inode, depth, procs: [], children: [] };
      nodes.set(inode, n);
    }
    return n;
  };
  for (const proc of [...p.processes].sort((a, b) => a.nspid.length - b.nspid.length || a.pid - b.pid)) {
    const depth = Math.max(0, proc.nspid.length - 1);
    node(proc.ns.pid, depth).procs.push(proc);
  }
  // Parent of a namespace: the PID namespace of the nearest ancestor process one level up.
  for (const n of nodes.values()) {
    if (n === root) continue;
    let parent: PidNode = root;
    const first = n.procs[0];
    if (first) {
      let cur = byPid.get(first.ppid);
      for (let guard = 0; cur && guard < 64; guard++) {
        if (cur.ns.pid !== n.inode && cur.nspid.length <= n.depth) {
          parent = nodes.get(cur.ns.pid) ?? root;
          break;
        }
        cur = byPid.get(cur.ppid);
      }
    }
    if (parent === n) parent = root;
    parent.children.push(n);
  }
  const sortTree = (n: PidNode) => {
    n.procs.sort((a, b) => a.pid - b.pid);
    n.children.sort((a, b) => (a.procs[0]?.pid ?? 0) - (b.procs[0]?.pid ?? 0));
    n.children.forEach(sortTree);
  };
  sortTree(root);
  return root;
}

/** Whether the PID-levels panel teaches anything here: the lesson makes a PID namespace, or the learner did. */
export function showsPidLevels(p: Picture, types: readonly NamespaceType[]): boolean {
  return types.includes('pid') || p.processes.some((x) => x.ns.pid !== p.lab.pid);
}

/** The lab's PID 1 (nslab-init: it only waits and reaps orphans, like a pod's pause process). */
export function isLabInit(proc: Proc): boolean {
  return proc.pid === 1 && proc.nspid.length === 1 && proc.pane === null;
}

export type Facts = NonNullable<Picture['facts']>;
export type UserFacts = NonNullable<Facts['user']>[string];
type IdMapLine = UserFacts['uidMap'][number];

/** One id followed up the user namespaces: its value here, in the parent, ..., on the host. */
export interface IdHop {
  id: number;
  /** 'here': this namespace; 'lab': the lab's own; 'host': outside the lab; else another namespace's inode. */
  where: 'here' | 'lab' | 'host' | number;
}

export interface IdChain {
  /** The map line this chain starts from: `inside` here is `outside` in the parent, `count` ids. */
  line: IdMapLine;
  hops: IdHop[];
}

function mapUp(lines: readonly IdMapLine[], id: number): number | null {
  const l = lines.find((x) => id >= x.inside && id < x.inside + x.count);
  return l ? l.outside + (id - l.inside) : null;
}

/**
 * Each line of a user namespace's uid (or gid) map as a chain: the first id of the line in this
 * namespace, then what it is in each parent up to the host (0 -> 1000 in the lab -> 101000 on
 * the host). Stops where a parent's map is unknown or does not cover the id.
 */
export function idChains(user: Facts['user'], inode: number, labUser: number, which: 'uidMap' | 'gidMap' = 'uidMap'): IdChain[] {
  const own = user?.[String(inode)];
  if (!own) return [];
  const whereOf = (ns: number | null): IdHop['where'] => (ns === null ? 'host' : ns === labUser ? 'lab' : ns);
  return own[which].map((line) => {
    const hops: IdHop[] = [{ id: line.inside, where: 'here' }];
    let id: number | null = line.outside;
    let ns: number | null = own.parent;
    for (let guard = 0; id !== null && guard < 33; guard++) {
      hops.push({ id, where: whereOf(ns) });
      if (ns === null) break;
      const up: UserFacts | undefined = user?.[String(ns)];
      if (!up) break;
      id = mapUp(up[which], id);
      ns = up.parent;
    }
    return { line, hops };
  });
}

/** A clock offset in seconds as a person reads it: "+604800 s (7 d)". */
export function offsetText(seconds: number): string {
  const sign = seconds < 0 ? '−' : '+';
  const abs = Math.abs(seconds);
  const human =
    abs >= 86400 && abs % 3600 === 0 ? ` (${+(abs / 86400).toFixed(2)} d)` : abs >= 3600 && abs % 60 === 0 ? ` (${+(abs / 3600).toFixed(2)} h)` : '';
  return seconds === 0 ? '0 s' : `${sign}${abs} s${human}`;
}

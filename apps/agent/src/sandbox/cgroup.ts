// Per-lab cgroups, on cgroup v2 (most hosts) and v1 (hosts like these, with memory and pids
// as v1 hierarchies). Each lab gets <hierarchy>/nslab/<lab id> in every hierarchy we use.
import { type Dirent, readFileSync, writeFileSync, mkdirSync, rmdirSync, existsSync, readdirSync, chownSync } from 'node:fs';
import { readdir, rmdir } from 'node:fs/promises';
import { basename, join } from 'node:path';

const WANTED = ['memory', 'pids', 'cpu'] as const;
type Controller = (typeof WANTED)[number];

interface Hierarchy {
  version: 1 | 2;
  mount: string;
  controllers: Controller[];
}

/**
 * A lab's delegated subtree: `<lab>/delegated` in every hierarchy, which the lab's root owns (the
 * directory and the files that create and move, as the kernel's cgroup-v2 "Delegation" section
 * lists them) and may fill with cgroups of its own, all under the lab's limits. Panes that ask for
 * it start in `delegated/pane-<name>`, which stays host root's.
 */
export const DELEGATED = 'delegated';
/**
 * On cgroup v2 the lab's own processes live in this leaf of the lab's cgroup: a cgroup that hands
 * controllers to its children may hold no processes ("no internal processes").
 */
export const V2_LEAF = 'lab';
/** On cgroup v2: how many cgroups the lab may make in its subtree, and how deep. */
export const DELEGATED_MAX_DESCENDANTS = 64;
export const DELEGATED_MAX_DEPTH = 8;
const DELEGATED_FILES = { 1: ['cgroup.procs', 'tasks'], 2: ['cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control'] } as const;

export interface CgroupLimits {
  memoryMb: number;
  pids: number;
  cpuPercent: number;
}

function parseMountinfo(): Array<{ mount: string; fstype: string; superOpts: string }> {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pre, post] = line.split(' - ');
      const fields = pre!.split(' ');
      const [fstype, , superOpts] = post!.split(' ');
      return { mount: fields[4]!.replace(/\\040/g, ' '), fstype: fstype!, superOpts: superOpts ?? '' };
    });
}

export class Cgroups {
  private constructor(
    readonly hierarchies: Hierarchy[],
    /** The parent cgroup of every lab of this agent instance. */
    readonly group: string,
  ) {}

  static detect(group = 'nslab'): Cgroups {
    const mounts = parseMountinfo();
    const found: Hierarchy[] = [];
    const have = new Set<Controller>();
    for (const m of mounts) {
      if (m.fstype !== 'cgroup') continue;
      const opts = m.superOpts.split(',');
      const ctrls = WANTED.filter((c) => opts.includes(c) && !have.has(c));
      if (ctrls.length) {
        for (const c of ctrls) have.add(c);
        found.push({ version: 1, mount: m.mount, controllers: ctrls });
      }
    }
    const v2 = mounts.find((m) => m.fstype === 'cgroup2');
    if (v2) {
      let available: string[] = [];
      try {
        available = readFileSync(join(v2.mount, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
      } catch {
        /* none */
      }
      const ctrls = WANTED.filter((c) => available.includes(c) && !have.has(c));
      if (ctrls.length) found.push({ version: 2, mount: v2.mount, controllers: ctrls });
    }
    return new Cgroups(found, group);
  }

  get controllers(): string[] {
    return this.hierarchies.flatMap((h) => h.controllers);
  }

  describe(): string {
    if (!this.hierarchies.length) return 'no usable cgroup controllers (limits fall back to rlimits)';
    return this.hierarchies.map((h) => `v${h.version} ${h.controllers.join('+')} at ${h.mount}`).join(', ');
  }

  private parentDir(h: Hierarchy): string {
    const dir = join(h.mount, this.group);
    if (!existsSync(dir)) {
      mkdirSync(dir);
    }
    if (h.version === 2) {
      const want = h.controllers.map((c) => `+${c}`).join(' ');
      try {
        writeFileSync(join(h.mount, 'cgroup.subtree_control'), want);
      } catch {
        /* already enabled, or delegated differently: the lab's own writes will tell */
      }
      writeFileSync(join(dir, 'cgroup.subtree_control'), want);
    }
    return dir;
  }

  /** `delegateTo`: a host uid (the lab's root) that gets a delegated subtree of the lab's cgroup. */
  create(labId: string, limits: CgroupLimits, delegateTo?: number): LabCgroup {
    const dirs: Array<{ h: Hierarchy; dir: string }> = [];
    const delegated = delegateTo !== undefined;
    try {
      for (const h of this.hierarchies) {
        const dir = join(this.parentDir(h), labId);
        mkdirSync(dir);
        dirs.push({ h, dir });
        applyLimits(h, dir, limits);
        if (delegateTo !== undefined) delegate(h, dir, delegateTo);
      }
    } catch (err) {
      new LabCgroup(dirs).remove();
      throw err;
    }
    return new LabCgroup(dirs, delegated);
  }

  /** Remove this agent's parent cgroups once no lab is left in them (on stop). */
  removeParents() {
    for (const h of this.hierarchies) {
      try {
        rmdirSync(join(h.mount, this.group));
      } catch {
        /* not empty (a lab that could not be removed) or already gone: the next start sweeps */
      }
    }
  }

  /** Every lab cgroup left by an earlier run of the agent. */
  leftovers(): LabCgroup[] {
    const byLab = new Map<string, Array<{ h: Hierarchy; dir: string }>>();
    for (const h of this.hierarchies) {
      const parent = join(h.mount, this.group);
      if (!existsSync(parent)) continue;
      for (const e of readdirSync(parent, { withFileTypes: true })) {
        if (!e.isDirectory()) continue;
        const list = byLab.get(e.name) ?? [];
        list.push({ h, dir: join(parent, e.name) });
        byLab.set(e.name, list);
      }
    }
    return [...byLab.values()].map((d) => new LabCgroup(d));
  }
}

function applyLimits(h: Hierarchy, dir: string, limits: CgroupLimits) {
  const w = (file: string, value: string) => writeFileSync(join(dir, file), value);
  const bytes = String(limits.memoryMb * 1024 * 1024);
  const quota = Math.max(1000, Math.round(limits.cpuPercent * 1000));
  for (const c of h.controllers) {
    if (h.version === 1) {
      if (c === 'memory') w('memory.limit_in_bytes', bytes);
      if (c === 'pids') w('pids.max', String(limits.pids));
      if (c === 'cpu') {
        w('cpu.cfs_period_us', '100000');
        w('cpu.cfs_quota_us', String(quota));
      }
    } else {
      if (c === 'memory') {
        w('memory.max', bytes);
        if (existsSync(join(dir, 'memory.swap.max'))) w('memory.swap.max', '0');
      }
      if (c === 'pids') w('pids.max', String(limits.pids));
      if (c === 'cpu') w('cpu.max', `${quota} 100000`);
    }
  }
}

/** Make `<lab>/delegated` and give it to `uid` (on v2 also the leaf the lab's processes live in). */
function delegate(h: Hierarchy, dir: string, uid: number) {
  const sub = join(dir, DELEGATED);
  if (h.version === 2) mkdirSync(join(dir, V2_LEAF));
  mkdirSync(sub);
  if (h.version === 2) {
    // Written by host root and not handed over: the lab cannot raise them.
    writeFileSync(join(sub, 'cgroup.max.descendants'), String(DELEGATED_MAX_DESCENDANTS));
    writeFileSync(join(sub, 'cgroup.max.depth'), String(DELEGATED_MAX_DEPTH));
  }
  chownSync(sub, uid, uid);
  for (const file of DELEGATED_FILES[h.version]) chownSync(join(sub, file), uid, uid);
}

export class LabCgroup {
  constructor(
    private readonly dirs: Array<{ h: Hierarchy; dir: string }>,
    /** The lab has a delegated subtree (see DELEGATED). */
    readonly delegated = false,
  ) {}

  /**
   * The cgroup.procs files a process of the lab writes itself into, one per hierarchy: the lab's
   * cgroup (on v2 with a delegated subtree: its leaf), or a sub-cgroup of it.
   */
  procsFiles(sub?: string): string[] {
    return this.dirs.map(({ h, dir }) => join(sub ? join(dir, sub) : this.delegated && h.version === 2 ? join(dir, V2_LEAF) : dir, 'cgroup.procs'));
  }

  /**
   * The lab's own cgroup.procs files, where its anchor makes the lab's cgroup namespace (rooted
   * there, so that the delegated subtree is inside it); procsFiles() is where it then lives.
   */
  rootProcsFiles(): string[] {
    return this.dirs.map(({ dir }) => join(dir, 'cgroup.procs'));
  }

  /**
   * The delegated subtree as the lab mounts it: each hierarchy's `delegated` directory and its
   * place in the lab, relative to the lab's root: /sys/fs/cgroup on a host with cgroup v2 only,
   * /sys/fs/cgroup/<hierarchy> for v1 (and /sys/fs/cgroup/unified for v2 beside v1).
   */
  delegationMounts(): Array<{ source: string; target: string }> {
    if (!this.delegated) return [];
    const v2Only = this.dirs.every(({ h }) => h.version === 2);
    return this.dirs.map(({ h, dir }) => ({
      source: join(dir, DELEGATED),
      target: v2Only ? 'sys/fs/cgroup' : `sys/fs/cgroup/${h.version === 2 ? 'unified' : basename(h.mount)}`,
    }));
  }

  /**
   * On cgroup v2, once the lab's processes are in its leaf (its cgroup namespace made): hand the
   * controllers down to the delegated subtree, whose own children the lab may then limit.
   */
  enableDelegation() {
    if (!this.delegated) return;
    for (const { h, dir } of this.dirs) {
      if (h.version !== 2) continue;
      const want = h.controllers.map((c) => `+${c}`).join(' ');
      writeFileSync(join(dir, 'cgroup.subtree_control'), want);
      writeFileSync(join(dir, DELEGATED, 'cgroup.subtree_control'), want);
    }
  }

  createSub(name: string) {
    for (const { dir } of this.dirs) {
      const d = join(dir, name);
      if (!existsSync(d)) mkdirSync(d);
    }
  }

  /** Host pids of every process in the lab (all hierarchies, sub-cgroups included). */
  pids(): number[] {
    const out = new Set<number>();
    const walk = (dir: string) => {
      try {
        for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (p) out.add(Number(p));
        for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
      } catch {
        /* removed meanwhile */
      }
    };
    for (const { dir } of this.dirs) walk(dir);
    return [...out];
  }

  /** SIGKILL every process in the lab; returns how many were signalled. */
  killAll(): number {
    for (const { h, dir } of this.dirs) {
      if (h.version === 2 && existsSync(join(dir, 'cgroup.kill'))) {
        try {
          writeFileSync(join(dir, 'cgroup.kill'), '1');
        } catch {
          /* fall through to per-pid kill */
        }
      }
    }
    const pids = this.pids();
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    return pids.length;
  }

  isEmpty(): boolean {
    return this.pids().length === 0;
  }

  /**
   * Remove the lab's cgroups, sub-cgroups first (the learner's own, in the delegated subtree,
   * too). Throws if a process is still inside.
   */
  remove() {
    const rm = (dir: string) => {
      if (!existsSync(dir)) return;
      for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rm(join(dir, e.name));
      rmdirSync(dir);
    };
    for (const { dir } of this.dirs) rm(dir);
  }

  /**
   * remove(), by libuv's threads: an rmdir of a cgroup waits for the kernel to take it offline,
   * and a closing lab must not hold up every other lab's terminals meanwhile.
   */
  async removeAsync(): Promise<void> {
    const rm = async (dir: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) if (e.isDirectory()) await rm(join(dir, e.name));
      try {
        await rmdir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    };
    await Promise.all(this.dirs.map(({ dir }) => rm(dir)));
  }

  /** Memory charged to the lab (its memory cgroup), or null without a memory controller. */
  memoryBytes(): number | null {
    for (const { h, dir } of this.dirs) {
      if (!h.controllers.includes('memory')) continue;
      const file = join(dir, h.version === 1 ? 'memory.usage_in_bytes' : 'memory.current');
      return Number(readFileSync(file, 'utf8').trim());
    }
    return null;
  }

  /**
   * How often the lab ran into its limits: processes the kernel's OOM killer took (memory) and
   * forks refused (pids). Counters only grow; compare with an earlier reading.
   */
  limitHits(): { memory: number; pids: number } {
    const hits = { memory: 0, pids: 0 };
    const field = (file: string, name: string): number => {
      try {
        const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(readFileSync(file, 'utf8'));
        return m ? Number(m[1]) : 0;
      } catch {
        return 0;
      }
    };
    for (const { h, dir } of this.dirs) {
      if (h.controllers.includes('memory')) hits.memory = field(join(dir, h.version === 1 ? 'memory.oom_control' : 'memory.events'), 'oom_kill');
      if (h.controllers.includes('pids')) hits.pids = field(join(dir, 'pids.events'), 'max');
    }
    return hits;
  }

  get paths(): string[] {
    return this.dirs.map((d) => d.dir);
  }

  /**
   * Is the process in this lab's cgroups (or a sub-cgroup)? As the kernel says in
   * /proc/PID/cgroup; null when the process is gone.
   */
  contains(pid: number): boolean | null {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      return null;
    }
    const paths = text.split('\n').map((l) => l.slice(l.indexOf(':', l.indexOf(':') + 1) + 1));
    return this.dirs.every(({ h, dir }) => {
      const rel = dir.slice(h.mount.length);
      return paths.some((p) => p === rel || p.startsWith(`${rel}/`));
    });
  }
}

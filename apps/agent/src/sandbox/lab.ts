// A lab: one learner's private world. It owns everything made for it and releases all of it in
// close(): its processes (through its cgroup and its anchor), its PTYs, its cgroups, its staging
// directory and its id range.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmdirSync } from 'node:fs';
import { processStatus, processStatusAsync, pidNamespaceChain, pidNamespaceChainAsync } from '../inspect/ns.js';
import { labProcesses } from './sweep.js';
import { IdRanges } from './idrange.js';
import { join } from 'node:path';
import { CLONE, O, SIG } from '../native/constants.js';
import { sys } from '../native/sys.js';
import { MAX_BUILDER_PANES, NAMESPACES, type LessonDef, type PaneDef, type ExecResult, type LabInfo } from '@nslab/shared';
import { Pty } from '../pty/pty.js';
import { Pane } from './pane.js';
import { DELEGATED, type LabCgroup } from './cgroup.js';
import { SpawnError, type SpawnerClient } from './spawner-client.js';
import type { ProcessRouter } from './router.js';

const ALL_NAMESPACES = CLONE.NEWUSER | CLONE.NEWNS | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWNET | CLONE.NEWCGROUP | CLONE.NEWPID | CLONE.NEWTIME;
const SHELL_ENV = [
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'HOME=/root',
  'USER=root',
  'LOGNAME=root',
  'TERM=xterm-256color',
  'COLORTERM=truecolor',
  'LANG=C.UTF-8',
];
const MAX_OUTPUT = 4 * 1024 * 1024;

/** A pane request the lab refuses: `code` is the protocol's error code for it. */
export class PaneError extends Error {
  constructor(
    readonly code: 'pane-not-running' | 'unknown-pane' | 'conflict' | 'limit' | 'failed',
    message: string,
  ) {
    super(message);
    this.name = 'PaneError';
  }
}
const SPAWN_TRIES = 3;

/** Pane starts that were tried again after a watchdog timeout or a lost child (for the benchmark). */
export const spawnStats = { retries: 0 };

export function newLabId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(12)].map((b) => alphabet[b % alphabet.length]).join('');
}

export interface LabDeps {
  spawner: SpawnerClient;
  router: ProcessRouter;
  shell: { file: string; argv: string[] };
  idsPerLab: number;
  rlimits: { nproc: number | null; nofile: number };
}

export class Lab {
  readonly panes = new Map<string, Pane>();
  readonly createdAt = new Date();
  /** Set when a learner's lesson takes the lab (a warm lab waits without one). */
  lesson: LessonDef | null = null;
  /** The browser session that opened the lab; null for the token holder (CLI, admin). */
  owner: string | null = null;
  /** The client address that opened it (browser sessions only), for the per-address cap. */
  address: string | null = null;
  state: 'open' | 'closing' | 'closed' = 'open';
  /** performance.now() when a lesson took the lab, and of the learner's latest action in it. */
  openedAt = performance.now();
  lastActiveAt = performance.now();
  private closing: Promise<void> | null = null;
  private devptsFd = -1;
  /** The inode of the lab's PID namespace, read from its init before any learner code ran. */
  private readonly pidNamespace: number;
  /** Told once the lab is closed; `clean` is false when something of it could not be removed. */
  onClosed: ((reason: string, clean: boolean) => void) | null = null;
  /** Told when a pane's shell has started, with how long it took (ms), for metrics. */
  onPaneStarted: ((pane: Pane, ms: number) => void) | null = null;

  constructor(
    readonly id: string,
    readonly hostname: string,
    readonly uidBase: number,
    readonly slot: number,
    readonly stageDir: string,
    readonly cgroup: LabCgroup | null,
    readonly anchorPid: number,
    readonly initPid: number,
    private readonly deps: LabDeps,
  ) {
    this.devptsFd = sys.open(`/proc/${initPid}/root/dev/pts`, O.RDONLY | O.DIRECTORY | O.CLOEXEC | O.NOFOLLOW);
    const chain = pidNamespaceChain(initPid);
    if (!chain) {
      sys.close(this.devptsFd);
      throw new SpawnError('the lab init was gone as soon as it started', 'lost');
    }
    this.pidNamespace = chain[0]!;
    if (!this.verifyProcess(initPid)) throw new SpawnError('the lab init was gone as soon as it started', 'lost');
  }

  /**
   * Check that a pid the spawner gave belongs to this lab before it is used (as a pane, as the
   * target of an exec): its host uid is in the lab's range, it is in the lab's cgroups, and its
   * PID namespace is the lab's or one made inside it. False when the process is already gone;
   * throws when it is someone else's.
   */
  verifyProcess(pid: number): boolean {
    const st = processStatus(pid);
    if (!st || st.exiting) return false;
    const why = this.notOurs(pid, st.uid, () => pidNamespaceChain(pid));
    if (why === null) return true;
    // An exiting process leaves its cgroup and namespaces before it is gone: that is not a refusal.
    const now = processStatus(pid);
    if (!now || now.exiting) return false;
    throw new Error(`pid ${pid} is not a process of lab ${this.id}: ${why}`);
  }

  /** verifyProcess with the /proc reads off the event loop (every pane and exec goes through it). */
  async verifyProcessAsync(pid: number): Promise<boolean> {
    const st = await processStatusAsync(pid);
    if (!st || st.exiting) return false;
    const chain = await pidNamespaceChainAsync(pid, this.pidNamespace);
    const why = this.notOurs(pid, st.uid, () => chain);
    if (why === null) return true;
    const now = await processStatusAsync(pid);
    if (!now || now.exiting) return false;
    throw new Error(`pid ${pid} is not a process of lab ${this.id}: ${why}`);
  }

  /** Why a live process is not the lab's (uid range, cgroup, PID namespace), or null. */
  private notOurs(pid: number, uid: number, chain: () => number[] | null): string | null {
    if (uid < this.uidBase || uid >= this.uidBase + this.deps.idsPerLab) return `its uid ${uid} is outside the lab's range`;
    if (this.cgroup && this.cgroup.contains(pid) === false) return "it is not in the lab's cgroup";
    const c = chain();
    if (c && !c.includes(this.pidNamespace)) return "its PID namespace is not the lab's";
    return null;
  }

  /** Give the lab to a lesson and start its panes' shells (all at once). */
  async assign(lesson: LessonDef): Promise<void> {
    if (this.lesson) throw new Error(`lab ${this.id} already runs lesson ${this.lesson.id}`);
    this.lesson = lesson;
    this.openedAt = this.lastActiveAt = performance.now();
    for (const def of lesson.panes) this.panes.set(def.name, new Pane(def));
    await Promise.all([...this.panes.values()].map((p) => this.startPane(p)));
  }

  /** Host pids of the lab's processes: from its cgroup, or by its uid range without one. */
  pids(): number[] {
    if (this.cgroup) return this.cgroup.pids();
    return labProcesses(new IdRanges(this.uidBase, this.deps.idsPerLab, 1));
  }

  /** The learner did something (typed, ran a command): the lab is not idle. */
  /** More time: the lifetime counts `ms` later (at most from now), and the lab is not idle. */
  extend(ms: number) {
    this.openedAt = Math.min(performance.now(), this.openedAt + ms);
    this.touch();
  }

  touch() {
    this.lastActiveAt = performance.now();
  }

  /** A line from nslab in every running pane. */
  notice(text: string) {
    for (const p of this.panes.values()) if (p.running) p.notice(text);
  }

  pane(name: string): Pane | undefined {
    return this.panes.get(name);
  }

  /** Start (or restart) a pane's shell: a new PTY, a new process in the pane's namespaces. */
  async startPane(pane: Pane): Promise<void> {
    if (this.state !== 'open') throw new Error(`lab ${this.id} is closing`);
    if (pane.running && pane.pid) {
      await this.deps.spawner.kill(pane.pid, SIG.KILL).catch(() => {});
    }
    const def = pane.def;
    const flags = def.unshare.reduce((f, t) => f | NAMESPACES[t].value, 0);
    const built = def.built;
    // A builder pane nested in another is made from that pane's shell, as `nsenter -t` would.
    const parent = built?.parent ? this.panes.get(built.parent) : undefined;
    if (built?.parent && !(parent?.running && parent.pid)) {
      throw new PaneError('pane-not-running', `pane ${def.name} is made inside pane ${built.parent}, which is not running; restart that one first`);
    }
    const sub = built ? undefined : this.paneCgroup(def);
    if (sub) this.cgroup?.createSub(sub);
    let lastErr: unknown;
    const t0 = performance.now();
    for (let attempt = 1; attempt <= SPAWN_TRIES; attempt++) {
      const pty = new Pty(this.devptsFd, this.uidBase, this.uidBase + 5, pane.cols, pane.rows);
      try {
        const pid = await this.deps.spawner.spawn({
          targetPid: parent?.pid ?? this.initPid,
          joinFlags: ALL_NAMESPACES,
          cgroupProcs: this.cgroup?.procsFiles(this.paneCgroup(def)) ?? [],
          rlimits: this.deps.rlimits,
          uid: 0,
          gid: 0,
          unshareFlags: flags,
          // A lesson's pane maps its root to 1000, to show a mapping; a builder pane as `unshare -r` does.
          nestedUserId: def.unshare.includes('user') ? (built ? 0 : 1000) : undefined,
          ...(built ? { unmappedUser: !built.mapUser, privateMounts: def.unshare.includes('mnt'), mountProc: built.mountProc, hostname: built.hostname } : {}),
          timeOffsets: def.timeOffsets,
          tty: { path: pty.slavePath },
          file: this.deps.shell.file,
          argv: this.deps.shell.argv,
          env: [...SHELL_ENV, `NSLAB_PANE=${def.name}`, ...(def.unshare.length ? [`debian_chroot=${def.name}`] : [])],
          cwd: '/root',
        });
        if (this.state !== 'open') {
          pty.close();
          return;
        }
        // Someone else's process is never made a pane; one already gone is (its exit follows).
        try {
          await this.verifyProcessAsync(pid);
        } catch (e) {
          await this.deps.spawner.kill(pid, SIG.KILL).catch(() => {});
          throw e;
        }
        this.deps.router.onExit(pid, (code, sig) => {
          if (pane.pid === pid) pane.exited(code, sig);
        });
        pane.started(pty, pid);
        this.onPaneStarted?.(pane, performance.now() - t0);
        return;
      } catch (err) {
        pty.close();
        lastErr = err;
        // Only a timeout or a child lost without a word is worth another try; a failing step
        // fails the same way again.
        if (!(err instanceof SpawnError && (err.step === 'watchdog' || err.step === 'lost'))) break;
        spawnStats.retries++;
      }
    }
    throw lastErr;
  }

  /**
   * The sub-cgroup a pane's processes join (undefined: the lab's own). A lesson's pane with a
   * cgroup namespace gets one of its own; a builder pane stays where its parent is, as a shell
   * running `unshare --cgroup` does.
   */
  private paneCgroup(def: PaneDef): string | undefined {
    if (def.built) {
      const parent = def.built.parent ? this.panes.get(def.built.parent) : undefined;
      return parent ? this.paneCgroup(parent.def) : undefined;
    }
    // A pane in the delegated subtree (when the lab has one) starts in a cgroup of it.
    if (def.delegatedCgroup && this.cgroup?.delegated) return `${DELEGATED}/pane-${def.name}`;
    return def.unshare.includes('cgroup') ? `pane-${def.name}` : undefined;
  }

  /** Builder panes of this lab (made by the learner, not by its lesson). */
  builtPanes(): Pane[] {
    return [...this.panes.values()].filter((p) => p.def.built);
  }

  /**
   * Add a pane the learner composed in the namespace builder, and start its shell. At most
   * MAX_BUILDER_PANES at once; its name must be free; a parent must be a running pane of this lab.
   */
  async addPane(def: PaneDef): Promise<Pane> {
    if (this.state !== 'open') throw new Error(`lab ${this.id} is closing`);
    if (!def.built) throw new PaneError('failed', 'only builder panes can be added to a lab');
    if (this.panes.has(def.name)) throw new PaneError('conflict', `this lab already has a pane called ${def.name}`);
    if (this.builtPanes().length >= MAX_BUILDER_PANES) {
      throw new PaneError('limit', `a lab holds at most ${MAX_BUILDER_PANES} panes made in the builder; close one first`);
    }
    const parent = def.built.parent;
    if (parent !== undefined && !this.panes.has(parent)) throw new PaneError('unknown-pane', `no pane ${parent} to make ${def.name} in`);
    const pane = new Pane(def);
    this.panes.set(def.name, pane);
    try {
      await this.startPane(pane);
    } catch (err) {
      this.panes.delete(def.name);
      pane.close();
      throw err;
    }
    return pane;
  }

  /**
   * Close a builder pane and every builder pane made inside it (their namespaces are its
   * children); returns the names closed, innermost first. A lesson's panes cannot be closed.
   */
  async removePane(name: string): Promise<string[]> {
    const pane = this.panes.get(name);
    if (!pane) throw new PaneError('unknown-pane', `no pane ${name} in lab ${this.id}`);
    if (!pane.def.built) throw new PaneError('failed', `pane ${name} belongs to the lesson; only panes made in the builder can be closed`);
    const closed: string[] = [];
    for (const child of this.builtPanes()) if (child.def.built?.parent === name) closed.push(...(await this.removePane(child.name)));
    this.panes.delete(name);
    if (pane.pid) await this.deps.spawner.kill(pane.pid, SIG.KILL).catch(() => {});
    pane.close();
    pane.emit('removed');
    closed.push(name);
    return closed;
  }

  /**
   * Run a command in a pane's namespaces (as its shell sees them), capturing its output: at most
   * `maxOutput` bytes of each stream (4 MiB by default); past it the command's pipe is closed.
   */
  async exec(pane: Pane, argv: string[], opts: { stdin?: Buffer; timeoutMs?: number; maxOutput?: number } = {}): Promise<ExecResult> {
    if (!pane.running || !pane.pid) throw new Error(`pane ${pane.name} is not running`);
    const def = pane.def;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const sizes = [0, 0];
    let truncated = false;
    let pid: number;
    try {
      pid = await this.deps.spawner.spawn({
        targetPid: pane.pid,
        joinFlags: ALL_NAMESPACES,
        cgroupProcs: this.cgroup?.procsFiles(this.paneCgroup(def)) ?? [],
        rlimits: this.deps.rlimits,
        uid: 0,
        gid: 0,
        unshareFlags: 0,
        stdin: opts.stdin?.toString('base64'),
        outputLimit: Math.min(opts.maxOutput ?? MAX_OUTPUT, MAX_OUTPUT),
        argv,
        env: [...SHELL_ENV, `NSLAB_PANE=${def.name}`],
        cwd: '/root',
      });
    } catch (e) {
      if (e instanceof SpawnError && /command not found/.test(e.message)) {
        return {
          exitCode: 127,
          signal: null,
          stdout: '',
          stderr: Buffer.from(`${argv[0]}: command not found\n`).toString('base64'),
          truncated: false,
          timedOut: false,
        };
      }
      throw e;
    }
    try {
      await this.verifyProcessAsync(pid);
    } catch (e) {
      await this.deps.spawner.kill(pid, SIG.KILL).catch(() => {});
      throw e;
    }
    return new Promise<ExecResult>((resolve) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        this.deps.spawner.kill(pid, SIG.KILL).catch(() => {});
      }, opts.timeoutMs ?? 30_000);
      this.deps.router.onOutput(pid, (fd, chunk) => {
        if (chunk === null) {
          truncated = true; // the spawner closed the pipe at the limit
          return;
        }
        const i = fd - 1;
        if (sizes[i]! >= MAX_OUTPUT) {
          truncated = true;
          return;
        }
        const room = MAX_OUTPUT - sizes[i]!;
        const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
        if (part.length < chunk.length) truncated = true;
        sizes[i]! += part.length;
        (fd === 1 ? out : err).push(part);
      });
      this.deps.router.onExit(pid, (exitCode, signal) => {
        clearTimeout(timer);
        resolve({
          exitCode,
          signal,
          stdout: Buffer.concat(out).toString('base64'),
          stderr: Buffer.concat(err).toString('base64'),
          truncated,
          timedOut,
        });
      });
    });
  }

  info(): LabInfo {
    return {
      id: this.id,
      lesson: this.lesson?.id ?? '',
      createdAt: this.createdAt.toISOString(),
      hostname: this.hostname,
      uidBase: this.uidBase,
      panes: [...this.panes.values()].map((p) => p.info()),
    };
  }

  /** Kill everything in the lab and release what it owns. Safe to call more than once. */
  close(reason = 'closed'): Promise<void> {
    this.closing ??= this.doClose(reason);
    return this.closing;
  }

  private async doClose(reason: string) {
    this.state = 'closing';
    let clean = true;
    try {
      await this.teardown();
    } catch (err) {
      // Something of the lab could not be removed (a process that will not die, a busy cgroup).
      // The lab is gone for its users; its id range stays reserved, and the next start sweeps.
      clean = false;
      reason = `${reason} (cleanup incomplete: ${(err as Error).message})`;
    }
    this.state = 'closed';
    this.onClosed?.(reason, clean);
  }

  private async teardown() {
    // The anchor's death takes the lab init with it (parent-death signal), and the init's death
    // takes every process in the lab's PID namespace; the cgroup catches anything else.
    // First the joiners the spawner forked ahead into the lab's cgroups (they are host root,
    // outside the lab's PID namespace: the init's death does not take them).
    if (this.cgroup) await this.deps.spawner.forget(this.cgroup.paths).catch(() => {});
    await this.deps.spawner.kill(this.anchorPid, SIG.KILL).catch(() => {});
    await this.deps.spawner.kill(this.initPid, SIG.KILL).catch(() => {});
    const deadline = Date.now() + 10_000;
    if (this.cgroup) {
      while (this.cgroup.killAll() > 0 && Date.now() < deadline) await sleep(5);
    }
    while (isRunningLabProcess(this.initPid, this.uidBase) && Date.now() < deadline) await sleep(5);
    for (const pane of this.panes.values()) pane.close();
    if (this.devptsFd >= 0) {
      sys.close(this.devptsFd);
      this.devptsFd = -1;
    }
    if (this.cgroup) {
      for (;;) {
        try {
          await this.cgroup.removeAsync();
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          // Whatever came in meanwhile (a set-up that was under way) goes too.
          this.cgroup.killAll();
          await sleep(10);
        }
      }
    }
    try {
      rmdirSync(this.stageDir);
    } catch {
      /* already gone */
    }
  }
}

/** Is this pid still running as the lab's root (and not a pid reused by someone else)? */
function isRunningLabProcess(pid: number, uidBase: number): boolean {
  const st = processStatus(pid);
  return st !== null && st.uid === uidBase && !st.zombie;
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

export function makeStageDir(stateDir: string, labId: string): string {
  const labs = join(stateDir, 'labs');
  mkdirSync(labs, { recursive: true, mode: 0o711 });
  const dir = join(labs, labId);
  mkdirSync(dir, { mode: 0o711 });
  return dir;
}

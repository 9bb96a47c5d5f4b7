// The lab manager: opens and closes labs, owns the spawner, the cgroups and the id ranges, and
// on start removes whatever an earlier run of the agent left behind.
import { existsSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import type { AgentConfig } from '../config.js';
import { BUILDER_LESSON, type LessonDef } from '@nslab/shared';
import { SpawnerClient, SpawnError } from './spawner-client.js';
import { SyscallError } from '../native/errors.js';
import { ProcessRouter } from './router.js';
import { Cgroups, type LabCgroup } from './cgroup.js';
import { IdRanges } from './idrange.js';
import { Lab, newLabId, makeStageDir } from './lab.js';
import { MASKED_DIRS, MASKED_FILES } from './masks.js';
import { sweepLeftovers } from './sweep.js';
import { REPO_ROOT } from '../paths.js';
import { rmdirSync } from 'node:fs';
import { LabLifetimes } from './lifetime.js';
import { sizePtyPool } from '../preflight.js';
import { agentTag, mintLabId, type AgentCapacity } from '@nslab/shared/cluster';

/** Where the lessons come from (the lessons layer's catalogue is one). */
export interface LessonSource {
  get(id: string): { def: LessonDef } | undefined;
  ids(): string[];
  list(): Array<{ def: LessonDef }>;
}

export class LimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LimitError';
  }
}

/** The agent is draining (docs/router.md): it opens no new lab, and closes when its labs have ended. */
export class DrainingError extends LimitError {
  constructor() {
    super('this machine is closing for maintenance and opens no new lab; open the lesson again to get one elsewhere');
  }
}

export class UnknownLessonError extends Error {
  constructor(id: string, known: string[]) {
    super(`no lesson "${id}" (lessons: ${known.join(', ')})`);
    this.name = 'UnknownLessonError';
  }
}

export type LogFn = (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;

export interface LabManagerEvents {
  opened: [lab: Lab, ms: number];
  closed: [lab: Lab, reason: string];
  /** The lab will be closed in `inMs` (idle, or at the end of its lifetime). */
  closing: [lab: Lab, reason: string, inMs: number];
  limit: [lab: Lab, which: 'memory' | 'pids'];
  paneStarted: [lab: Lab, ms: number];
  /** Draining, and the last learner's lab has closed (emitted once). */
  drained: [];
}

export class LabManager<C extends LessonSource = LessonSource> extends EventEmitter<LabManagerEvents> {
  readonly labs = new Map<string, Lab>();
  readonly spawner = new SpawnerClient();
  readonly router = new ProcessRouter(this.spawner);
  readonly cgroups: Cgroups;
  readonly ids: IdRanges;
  private shell: { file: string; argv: string[] };
  private stopping = false;
  /** Labs made ahead of time, waiting for a lesson. */
  private warm: Lab[] = [];
  /** Labs made ahead for a lesson, their panes started and at the prompt: lesson id -> labs. */
  private ready = new Map<string, Lab[]>();
  private refilling: Promise<void> | null = null;
  /** Prepared labs wanted beyond warmPerLesson, by who wants them (a workshop about to fill). */
  private readonly demand = new Map<string, { lesson: string; count: number }>();
  private lifetimes: LabLifetimes | null = null;
  /** Set by drain(): no new lab, no pool refilled; `drained` is emitted when the last lab has closed. */
  private drainingSince: number | null = null;
  /** This agent's tag in clustered lab ids (from its id), or null when no cluster key is set. */
  readonly tag: string | null;

  constructor(
    readonly config: AgentConfig,
    readonly catalogue: C,
    private readonly logFn: LogFn = () => {},
  ) {
    super();
    // Each connection's subscriptions listen once for labs closing (one listener a connection,
    // whatever it has attached), and the services (metrics, presence, watchers) once each.
    this.setMaxListeners(0);
    this.ids = new IdRanges(config.idBase, config.idsPerLab, config.maxLabs);
    this.tag = config.cluster.key ? agentTag(config.cluster.agentId) : null;
    this.cgroups = Cgroups.detect(config.instance);
    const lower = config.rootfsLower.replace(/\/$/, '');
    this.shell = existsSync(`${lower}/bin/bash`) ? { file: '/bin/bash', argv: ['-bash'] } : { file: '/bin/sh', argv: ['-sh'] };
    this.spawner.on('log', (level, msg) => this.log(level === 'error' ? 'error' : 'info', `spawner: ${msg}`));
    this.spawner.on('died', (reason) => {
      // One that dies while it starts is the start's failure, handled there.
      if (this.stopping || this.respawning) return;
      this.log('error', reason);
      void this.recoverSpawner();
    });
  }

  private spawnerDeaths: number[] = [];
  private respawnTimer: NodeJS.Timeout | null = null;

  /**
   * The spawner died: its labs died with it (parent-death signals). Release what they held and
   * start a new spawner. One that keeps dying (4 times within a minute), or cannot start, is
   * started again after a pause that doubles up to a minute, for as long as the agent runs:
   * meanwhile opening a lab answers that it is not running and /healthz answers 503.
   */
  private async recoverSpawner() {
    const labs = [...this.labs.values(), ...this.allPooled()];
    this.warm = [];
    this.ready.clear();
    await Promise.allSettled(labs.map((lab) => lab.close('the spawner died')));
    const now = Date.now();
    this.spawnerDeaths = [...this.spawnerDeaths.filter((t) => now - t < 60_000), now];
    if (this.stopping) return;
    if (this.spawnerDeaths.length > 3) {
      this.log('error', 'the spawner died 4 times within a minute; starting it again in 5 s');
      this.respawnLater(5_000);
      return;
    }
    await this.respawn(5_000);
  }

  private respawning = false;

  private async respawn(nextPauseMs: number) {
    if (this.stopping) return;
    this.respawning = true;
    try {
      await this.spawner.start();
      this.log('warn', 'started a new spawner');
      this.refillSoon();
    } catch (err) {
      this.log('error', `could not start a new spawner; trying again in ${Math.round(nextPauseMs / 1000)} s`, { error: (err as Error).message });
      this.spawnerDeaths.push(Date.now());
      this.respawnLater(nextPauseMs);
    } finally {
      this.respawning = false;
    }
  }

  private respawnLater(pauseMs: number) {
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    this.respawnTimer = setTimeout(() => {
      this.respawnTimer = null;
      void this.respawn(Math.min(60_000, pauseMs * 2));
    }, pauseMs);
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) {
    this.logFn(level, msg, extra);
  }

  async start() {
    const swept = sweepLeftovers(this.config, this.cgroups, this.ids);
    if (swept.processes || swept.cgroups || swept.dirs || swept.mounts) {
      this.log('warn', 'removed what an earlier run left behind', swept as unknown as Record<string, unknown>);
    }
    await this.spawner.start();
    this.log('info', `cgroups: ${this.cgroups.describe()}`);
    const ptys = sizePtyPool(this.config.maxLabs, this.config.limits.ptys);
    for (const d of ptys.done) this.log('info', `PTYs: ${d}`);
    for (const w of ptys.warnings) this.log('warn', `PTYs: ${w}`);
    this.lifetimes = new LabLifetimes(
      { idleMs: this.config.idleMs, maxLifetimeMs: this.config.maxLifetimeMs, warnMs: this.config.warnMs, limits: this.config.limits },
      {
        labs: () => this.list(),
        close: (lab, reason) => {
          this.log('info', `closing a lab: ${reason}`, { lab: lab.id });
          lab.close(reason).catch((err: Error) => this.log('error', 'closing a lab failed', { lab: lab.id, error: err.message }));
        },
        warn: (lab, reason, inMs) => this.emit('closing', lab, reason, inMs),
        limitHit: (lab, which) => {
          this.log('info', `a lab hit its ${which} limit`, { lab: lab.id });
          this.emit('limit', lab, which);
        },
      },
    );
    this.refillSoon();
  }

  /**
   * Open a lab for a lesson: a warm one from the pool when there is one (its namespaces, root
   * filesystem and init are made ahead of time), else a new one; then start the lesson's panes.
   */
  async open(lessonId: string, owner: string | null = null): Promise<Lab> {
    if (this.stopping) throw new LimitError('the agent is shutting down');
    if (this.drainingSince !== null) throw new DrainingError();
    const lesson = this.lessonDef(lessonId);
    if (!lesson) throw new UnknownLessonError(lessonId, [...this.catalogue.ids(), BUILDER_LESSON.id]);
    if (owner !== null) {
      // A browser keeps a few labs; its oldest makes room for a new one.
      const mine = this.list().filter((l) => l.owner === owner);
      for (const old of mine.slice(0, Math.max(0, mine.length - this.config.labsPerSession + 1))) {
        await old.close('replaced by a newer lab of the same browser');
      }
    }
    const t0 = performance.now();
    const prepared = this.takeReady(lessonId);
    if (!prepared) await this.makeRoom();
    // A lab with a delegated cgroup subtree is made for its lesson: the bare warm ones have none.
    const lab = prepared ?? (wantsDelegation(lesson) ? await this.createRetrying(true) : (this.warm.shift() ?? (await this.createRetrying())));
    lab.owner = owner;
    this.labs.set(lab.id, lab);
    this.refillSoon();
    if (prepared) lab.openedAt = lab.lastActiveAt = performance.now();
    else {
      try {
        await lab.assign(lesson);
      } catch (err) {
        await lab.close('failed to start');
        throw err;
      }
    }
    const ms = performance.now() - t0;
    this.log('info', 'lab opened', { lab: lab.id, lesson: lessonId, uidBase: lab.uidBase, ms: Math.round(ms * 100) / 100 });
    this.emit('opened', lab, ms);
    return lab;
  }

  /**
   * create(), tried again when the set-up's process vanished without a word (no step named: a
   * crash, the kernel's OOM killer) or the init was gone as soon as it started; a step that fails
   * fails the same way again and is not retried.
   */
  private async createRetrying(delegate = false): Promise<Lab> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.create(delegate);
      } catch (err) {
        const lost =
          (err instanceof SpawnError && (err.step === undefined || err.step === 'lost' || err.step === 'watchdog')) ||
          (err instanceof SyscallError && err.code === 'ENOENT' && /\/proc\/\d+\/root/.test(err.message));
        if (!lost || attempt >= 3) throw err;
        this.log('warn', 'a lab set-up process was lost; trying again', { error: (err as Error).message, attempt });
      }
    }
  }

  /**
   * Make a lab with no lesson yet: namespaces, root filesystem, cgroup, init; `delegate`: with a
   * cgroup subtree its root manages (for a lesson whose pane asks for one).
   */
  private async create(delegate = false): Promise<Lab> {
    const range = this.ids.allocate();
    if (!range) throw new LimitError(`all ${this.config.maxLabs} labs are in use; come back later`);
    const id = this.tag && this.config.cluster.key ? mintLabId(this.config.cluster.key, this.tag) : newLabId();
    let cgroup: LabCgroup | null = null;
    let stageDir: string | null = null;
    try {
      cgroup = this.cgroups.hierarchies.length ? this.cgroups.create(id, this.config.limits, delegate ? range.base : undefined) : null;
      stageDir = makeStageDir(this.config.stateDir, id);
      const rlimits = {
        nproc: this.cgroups.controllers.includes('pids') ? null : this.config.limits.pids,
        nofile: this.config.limits.nofile,
      };
      const { anchorPid, initPid } = await this.spawner.makeLab({
        labId: id,
        uidBase: range.base,
        idCount: this.config.idsPerLab,
        hostname: this.config.hostname,
        stageDir,
        lowerDir: this.config.rootfsLower,
        rootSizeMb: this.config.limits.rootSizeMb,
        tmpSizeMb: this.config.limits.tmpSizeMb,
        ptys: this.config.limits.ptys,
        maskFiles: MASKED_FILES,
        maskDirs: [...MASKED_DIRS, this.config.stateDir, this.config.dataDir, REPO_ROOT, ...this.config.maskPaths],
        cgroupProcs: cgroup?.rootProcsFiles() ?? [],
        ...(cgroup?.delegated ? { cgroupDelegation: { mounts: cgroup.delegationMounts(), labProcs: cgroup.procsFiles() } } : {}),
        timeOffsets: this.config.timeOffsets,
        rlimits,
      });
      cgroup?.enableDelegation();
      const lab = new Lab(id, this.config.hostname, range.base, range.slot, stageDir, cgroup, anchorPid, initPid, {
        spawner: this.spawner,
        router: this.router,
        shell: this.shell,
        idsPerLab: this.config.idsPerLab,
        rlimits,
      });
      lab.onPaneStarted = (_pane, ms) => this.emit('paneStarted', lab, ms);
      lab.onClosed = (reason, clean) => {
        this.labs.delete(id);
        this.warm = this.warm.filter((w) => w !== lab);
        for (const [lesson, list] of this.ready)
          this.ready.set(
            lesson,
            list.filter((w) => w !== lab),
          );
        if (clean) this.ids.release(range.slot);
        this.log(clean ? 'info' : 'error', clean ? 'lab closed' : 'lab closed; its id range stays reserved until the next start', { lab: id, reason });
        this.emit('closed', lab, reason);
      };
      this.router.onExit(initPid, () => {
        if (lab.state === 'open') void lab.close('the lab init exited');
      });
      return lab;
    } catch (err) {
      // Nothing owns these yet: release them here.
      // A set-up process that was killed may take a moment to leave the cgroup.
      if (cgroup) await discardCgroup(cgroup);
      if (stageDir) {
        try {
          rmdirSync(stageDir);
        } catch {
          /* swept later */
        }
      }
      this.ids.release(range.slot);
      throw err;
    }
  }

  /** A lab prepared for this lesson whose panes still run, or null. */
  private takeReady(lessonId: string): Lab | null {
    const list = this.ready.get(lessonId) ?? [];
    while (list.length) {
      const lab = list.shift()!;
      if (lab.state === 'open' && [...lab.panes.values()].every((p) => p.running)) return lab;
      void lab.close('a prepared lab went stale');
    }
    return null;
  }

  /**
   * Every id range taken, some by labs made ahead: a learner comes before the pools. Close a bare
   * warm lab, else a prepared lab of the lesson with the most of them, and wait until its range
   * is free again. (With nothing pooled, the open fails with the usual "all labs are in use".)
   */
  private async makeRoom(): Promise<void> {
    if (this.ids.inUse < this.config.maxLabs) return;
    let victim = this.warm.shift();
    if (!victim) {
      const richest = [...this.ready.values()].filter((l) => l.length).sort((a, b) => b.length - a.length)[0];
      victim = richest?.shift();
    }
    if (!victim) return;
    this.log('info', 'a lab made ahead gives its place to a learner', { lab: victim.id });
    await victim.close('made room for a learner');
  }

  /**
   * Keep `count` more labs of a lesson prepared, for `who` (a workshop whose learners are about
   * to come); 0 withdraws the wish. All wishes together never take more than half the labs.
   */
  wantReady(who: string, lesson: string, count: number) {
    if (count <= 0 || !this.catalogue.get(lesson)) this.demand.delete(who);
    else this.demand.set(who, { lesson, count: Math.floor(count) });
    // Labs nobody wishes for any more are closed: a prepared lab holds memory and an id range.
    for (const [id, list] of this.ready) {
      const extra = list.length - this.target(id);
      if (extra > 0) for (const lab of list.splice(list.length - extra, extra)) void lab.close('no longer wanted');
    }
    this.refillSoon();
  }

  /** How many prepared labs of a lesson are ready now. */
  readyCount(lesson: string): number {
    return this.ready.get(lesson)?.length ?? 0;
  }

  private target(lesson: string): number {
    let wished = 0;
    for (const d of this.demand.values()) if (d.lesson === lesson) wished += d.count;
    let all = 0;
    for (const d of this.demand.values()) all += d.count;
    const cap = Math.floor(this.config.maxLabs / 2);
    // Shared out in proportion when the wishes add up to more than the cap.
    if (all > cap) wished = Math.floor((wished * cap) / all);
    return this.config.warmPerLesson + wished;
  }

  /** The next pool to fill: lessons' prepared labs first (opening one costs nothing), then bare ones. */
  private nextToPrepare(): { lesson: string | null } | null {
    if (this.stopping || this.drainingSince !== null || this.config.maxLabs - this.ids.inUse <= 1) return null;
    for (const entry of this.catalogue.list()) {
      if ((this.ready.get(entry.def.id)?.length ?? 0) < this.target(entry.def.id)) return { lesson: entry.def.id };
    }
    if (this.warm.length < this.config.warmLabs) return { lesson: null };
    return null;
  }

  /**
   * Keep the pools full, one lab at a time, without ever taking the last free id range:
   * `warmPerLesson` labs per lesson with their panes at the prompt, and `warmLabs` bare labs.
   */
  private refillSoon() {
    if (this.refilling || !this.nextToPrepare()) return;
    this.refilling = (async () => {
      await new Promise((r) => setTimeout(r, 20)); // let the lab just opened start its panes first
      try {
        for (let next = this.nextToPrepare(); next; next = this.nextToPrepare()) {
          const lab = await this.create(next.lesson !== null && wantsDelegation(this.lessonDef(next.lesson)));
          if (next.lesson !== null) await this.prepare(lab, next.lesson);
          if (this.stopping) {
            await lab.close('the agent is stopping');
            break;
          }
          if (lab.state !== 'open') continue;
          if (next.lesson === null) this.warm.push(lab);
          // The wish went down while this lab was being made (the learner it was for has a lab
          // now): it is not wanted, and it would hold memory and an id range for nobody.
          else if ((this.ready.get(next.lesson)?.length ?? 0) >= this.target(next.lesson)) void lab.close('no longer wanted');
          else this.ready.set(next.lesson, [...(this.ready.get(next.lesson) ?? []), lab]);
        }
      } catch (err) {
        this.log('warn', 'could not make a warm lab', { error: (err as Error).message });
      } finally {
        this.refilling = null;
      }
    })();
  }

  /** A lesson's lab as the catalogue has it; the namespace builder's lab is always offered. */
  private lessonDef(id: string): LessonDef | undefined {
    return this.catalogue.get(id)?.def ?? (id === BUILDER_LESSON.id ? BUILDER_LESSON : undefined);
  }

  /** Start a prepared lab's panes and wait for their first output (the prompt). */
  private async prepare(lab: Lab, lessonId: string) {
    const def = this.lessonDef(lessonId)!;
    try {
      await lab.assign(def);
    } catch (err) {
      await lab.close('failed to start');
      throw err;
    }
    const deadline = Date.now() + 5000;
    while ([...lab.panes.values()].some((p) => p.firstOutputAt === null) && Date.now() < deadline && lab.state === 'open') {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** How many warm labs are ready now (bare and prepared). */
  get warmCount(): number {
    let n = this.warm.length;
    for (const list of this.ready.values()) n += list.length;
    return n;
  }

  /** Prepared labs (panes at the prompt) per lesson. */
  get preparedCount(): number {
    let n = 0;
    for (const list of this.ready.values()) n += list.length;
    return n;
  }

  /**
   * Stop taking labs (docs/router.md, draining): opens are refused, the pools are closed and not
   * refilled; `drained` is emitted once no learner's lab is left. Calling it again changes nothing.
   */
  drain(): void {
    if (this.drainingSince !== null) return;
    this.drainingSince = Date.now();
    this.log('info', 'draining: no new labs; closing when the last lab ends', { labs: this.labs.size });
    const pooled = this.allPooled();
    this.warm = [];
    this.ready.clear();
    void Promise.allSettled(pooled.map((lab) => lab.close('the agent is draining'))).then(() => this.checkDrained());
    this.on('closed', () => this.checkDrained());
  }

  private drainedSent = false;
  private checkDrained() {
    if (this.drainingSince === null || this.labs.size > 0 || this.drainedSent) return;
    this.drainedSent = true;
    this.emit('drained');
  }

  /** When the drain began (epoch ms), or null when the agent takes labs. */
  get draining(): number | null {
    return this.drainingSince;
  }

  /** What /healthz says of the agent's room (routers place labs by `free`). */
  capacity(): AgentCapacity {
    const open = this.labs.size;
    const free = this.stopping || this.drainingSince !== null || !this.spawner.pid ? 0 : Math.max(0, this.config.maxLabs - open);
    return { open, free, warm: this.warmCount, max: this.config.maxLabs };
  }

  private allPooled(): Lab[] {
    return [...this.warm, ...[...this.ready.values()].flat()];
  }

  get(id: string): Lab | undefined {
    return this.labs.get(id);
  }

  /** When a lab closes by its lifetime, as a wall-clock time (null without a lifetime). */
  closesAt(lab: Lab): Date | null {
    const max = this.config.maxLifetimeMs;
    return max > 0 ? new Date(Date.now() + (lab.openedAt + max - performance.now())) : null;
  }

  list(): Lab[] {
    return [...this.labs.values()];
  }

  async close(id: string, reason = 'closed by request'): Promise<boolean> {
    const lab = this.labs.get(id);
    if (!lab) return false;
    await lab.close(reason);
    return true;
  }

  async stop() {
    this.stopping = true;
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    this.respawnTimer = null;
    this.lifetimes?.stop();
    await this.refilling;
    await Promise.allSettled([...this.list(), ...this.allPooled()].map((l) => l.close('the agent is stopping')));
    this.warm = [];
    this.ready.clear();
    await this.spawner.stop();
    // Whatever a failed set-up left (a cgroup still busy when it failed) goes now, not at the
    // next start.
    const swept = sweepLeftovers(this.config, this.cgroups, this.ids);
    if (swept.cgroups || swept.processes) this.log('warn', 'removed what failed set-ups left', { ...swept });
    this.cgroups.removeParents();
  }
}

/** Does a lesson's lab need a delegated cgroup subtree (a pane of it starts there)? */
function wantsDelegation(lesson: LessonDef | undefined): boolean {
  return lesson?.panes.some((p) => p.delegatedCgroup) ?? false;
}

/** Kill what is in a cgroup nobody owns yet and remove it, trying for a few seconds. */
async function discardCgroup(cgroup: LabCgroup): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    cgroup.killAll();
    try {
      await cgroup.removeAsync();
      return;
    } catch {
      if (Date.now() > deadline) return; // the stop's or the next start's sweep removes it
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

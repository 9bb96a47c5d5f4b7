// How long a lab may live: closed after `idleMs` without the learner typing or running anything,
// and after `maxLifetimeMs` in any case, each with a warning shown in the lab's panes (and sent to
// its clients) `warnMs` before. Also tells the learner, in the panes, when the lab ran into its
// memory or process limit, since the kernel's answer alone ("Killed", "Resource temporarily
// unavailable") does not say why.
import type { Lab } from './lab.js';

export interface LifetimeSettings {
  idleMs: number;
  maxLifetimeMs: number;
  warnMs: number;
  limits: { memoryMb: number; pids: number };
}

export interface LifetimeHooks {
  labs(): Lab[];
  close(lab: Lab, reason: 'idle' | 'lifetime'): void;
  warn(lab: Lab, reason: 'idle' | 'lifetime', inMs: number): void;
  limitHit(lab: Lab, which: 'memory' | 'pids'): void;
}

const TICK_MS = 1000;

export class LabLifetimes {
  private readonly timer: NodeJS.Timeout;
  /** Per lab: the warning already given (so it is given once), and the limit counters seen. */
  private readonly seen = new WeakMap<Lab, { warned: string | null; hits: { memory: number; pids: number } }>();

  constructor(
    private readonly settings: LifetimeSettings,
    private readonly hooks: LifetimeHooks,
  ) {
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  tick(now = performance.now()) {
    const { idleMs, maxLifetimeMs, warnMs } = this.settings;
    for (const lab of this.hooks.labs()) {
      if (lab.state !== 'open' || !lab.lesson) continue;
      let state = this.seen.get(lab);
      // A lab's cgroup is new, so its counters start at zero: a hit before the first look counts.
      if (!state) this.seen.set(lab, (state = { warned: null, hits: { memory: 0, pids: 0 } }));
      this.checkLimits(lab, state);

      const idleLeft = idleMs > 0 ? lab.lastActiveAt + idleMs - now : Infinity;
      const lifeLeft = maxLifetimeMs > 0 ? lab.openedAt + maxLifetimeMs - now : Infinity;
      const reason = lifeLeft <= idleLeft ? 'lifetime' : 'idle';
      const left = Math.min(idleLeft, lifeLeft);
      if (left <= 0) {
        this.hooks.close(lab, reason);
        continue;
      }
      // A learner who types again after an idle warning is no longer warned.
      if (left > warnMs) {
        state.warned = null;
        continue;
      }
      if (state.warned === reason) continue;
      state.warned = reason;
      const s = Math.ceil(left / 1000);
      lab.notice(
        reason === 'idle'
          ? `This lab has been idle and closes in ${s} s. Type anything to keep it.`
          : `This lab reached its time limit and closes in ${s} s. Save what you need.`,
      );
      this.hooks.warn(lab, reason, left);
    }
  }

  private checkLimits(lab: Lab, state: { hits: { memory: number; pids: number } }) {
    if (!lab.cgroup) return;
    const hits = lab.cgroup.limitHits();
    const before = state.hits;
    state.hits = hits;
    if (hits.memory > before.memory) {
      lab.notice(`The lab hit its memory limit (${this.settings.limits.memoryMb} MB): the kernel killed a process to make room.`);
      this.hooks.limitHit(lab, 'memory');
    }
    if (hits.pids > before.pids) {
      lab.notice(`The lab hit its process limit (${this.settings.limits.pids} processes): new processes are refused until some exit.`);
      this.hooks.limitHit(lab, 'pids');
    }
  }

  stop() {
    clearInterval(this.timer);
  }
}

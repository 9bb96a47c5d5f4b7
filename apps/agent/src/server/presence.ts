// Who is still there for a lab: the connections that opened or attached to it. When the last one
// goes (a closed tab, a dropped network), the lab waits a grace period for someone to come back,
// then closes. Labs nobody ever held (made by the agent's own code) are left alone.
import type { LabManager } from '../sandbox/labs.js';

export class Presence {
  private readonly holders = new Map<string, Set<object>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  /** Told when a lab gains its first holder or loses its last one. */
  onChange: (lab: string) => void = () => {};

  constructor(
    private readonly manager: LabManager,
    private readonly graceMs: number,
    private readonly log: (msg: string, extra: Record<string, unknown>) => void,
  ) {
    manager.on('closed', (lab) => this.forget(lab.id));
  }

  hold(lab: string, who: object) {
    let set = this.holders.get(lab);
    if (!set) this.holders.set(lab, (set = new Set()));
    if (!set.has(who)) {
      set.add(who);
      if (set.size === 1) this.onChange(lab);
    }
    const timer = this.timers.get(lab);
    if (timer) {
      clearTimeout(timer);
      this.timers.delete(lab);
    }
  }

  release(lab: string, who: object) {
    const set = this.holders.get(lab);
    if (!set?.delete(who) || set.size > 0) return;
    this.onChange(lab);
    if (this.timers.has(lab)) return;
    const timer = setTimeout(() => {
      this.timers.delete(lab);
      if (this.holders.get(lab)?.size) return;
      this.log('closing a lab nobody came back to', { lab, graceMs: this.graceMs });
      this.manager.close(lab, 'abandoned').catch(() => {});
    }, this.graceMs);
    timer.unref();
    this.timers.set(lab, timer);
  }

  releaseAll(who: object) {
    for (const lab of [...this.holders.keys()]) this.release(lab, who);
  }

  /** Is a page (or another client) of the lab's owner connected to it? */
  held(lab: string): boolean {
    return (this.holders.get(lab)?.size ?? 0) > 0;
  }

  /** Labs waiting for someone to come back. */
  get waiting(): number {
    return this.timers.size;
  }

  private forget(lab: string) {
    this.holders.delete(lab);
    const timer = this.timers.get(lab);
    if (timer) clearTimeout(timer);
    this.timers.delete(lab);
  }

  stop() {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

// Labs ready before the room arrives: while a workshop is open, the lab manager keeps one
// prepared lab of its first lesson for every seat whose learner has no lab yet (bounded by the manager's own
// limits), so thirty learners pressing Join at once each get a lab at once. Re-evaluated when
// the room changes and every minute (a scheduled workshop opens, an open one ends), for the
// first WARM_FOR_MS after it opens.
import type { LabManager } from '../sandbox/labs.js';
import { phaseOf, type WorkshopRow, type Workshops } from '../workshops/workshops.js';

const EVERY_MS = 60_000;
/** Labs are warmed for this long after a workshop opens. */
export const WARM_FOR_MS = 8 * 3600_000;

export class WorkshopWarmer {
  private readonly pending = new Set<string>();
  /** Workshops with labs wished for now (so a wish is withdrawn once the workshop is over). */
  private readonly wishes = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private readonly onChanged = (id: string) => this.soon(id);

  constructor(
    private readonly workshops: Workshops,
    private readonly manager: LabManager,
    private readonly log: (msg: string, extra: Record<string, unknown>) => void,
  ) {}

  start() {
    this.workshops.on('changed', this.onChanged);
    void this.all();
    this.timer = setInterval(() => void this.all(), EVERY_MS);
    this.timer.unref();
  }

  private soon(id: string) {
    if (this.pending.has(id)) return;
    this.pending.add(id);
    setTimeout(() => {
      this.pending.delete(id);
      void this.one(id);
    }, 200).unref();
  }

  private async all() {
    try {
      for (const w of await this.workshops.list()) if (phaseOf(w) !== 'closed' || this.wishes.has(w.id)) await this.one(w.id, w);
    } catch (err) {
      this.log('could not look at the workshops to warm labs for them', { error: (err as Error).message });
    }
  }

  /** `row`: the workshop as just read (else it is read here). */
  private async one(id: string, row?: WorkshopRow) {
    try {
      const w = row ?? (await this.workshops.get(id));
      // Every seat whose learner has no lab open yet (not joined, or joined and on the way).
      const owners = new Set(this.manager.list().map((l) => l.owner));
      const seated = (await this.workshops.seats(id)).filter((s) => owners.has(s.sessionId)).length;
      // Only while the room is arriving: a workshop nobody closed must not hold labs for ever.
      const since = (w.opensAt ?? w.createdAt).getTime();
      const arriving = phaseOf(w) === 'open' && Date.now() - since < WARM_FOR_MS;
      const free = arriving ? w.seats - seated : 0;
      if (free > 0) this.wishes.add(id);
      else this.wishes.delete(id);
      this.manager.wantReady(`workshop:${id}`, w.lessons[0]!, free);
    } catch (err) {
      this.log('could not warm labs for a workshop', { workshop: id, error: (err as Error).message });
    }
  }

  stop() {
    this.workshops.off('changed', this.onChanged);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

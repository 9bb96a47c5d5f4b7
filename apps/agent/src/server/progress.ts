// Learners' progress, kept in the store as it happens: a task done for the first time in a lab
// is recorded for the browser session that owns the lab. A store that is away (PostgreSQL gone)
// turns a write into a logged error and a notice to the lab's clients; the write is kept and
// tried again until the store answers, then the clients are told it is saved.
import type { Store } from '../store/index.js';

const RETRY_MS = 10_000;
/** Writes kept for a store that is away, at most. */
const MAX_WAITING = 10_000;

interface Done {
  labId: string;
  session: string;
  lesson: string;
  task: string;
  at: number;
}

export class ProgressRecorder {
  private readonly waiting: Done[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** Called once per session and task, when it is stored as done for the first time (also after a retry). */
  onFirst: ((session: string, lesson: string, task: string, at: Date) => void) | null = null;

  constructor(
    private readonly store: Store,
    private readonly tell: (labId: string, level: 'info' | 'warn', message: string) => void,
    private readonly log: (msg: string, extra: Record<string, unknown>) => void,
  ) {}

  /** Resolves once written (or kept for later, when the store is away). */
  async record(labId: string, session: string, lesson: string, task: string): Promise<void> {
    await this.write({ labId, session, lesson, task, at: Date.now() });
  }

  private async write(d: Done, retry = false): Promise<boolean> {
    try {
      const r = await this.store.recordTaskDone(d.session, d.lesson, d.task, d.at);
      if (r.first) this.onFirst?.(d.session, d.lesson, d.task, r.doneAt);
      if (retry) this.tell(d.labId, 'info', 'Your progress is saved again.');
      return true;
    } catch (err) {
      if (!retry) {
        this.log('could not save progress; trying again', { lab: d.labId, lesson: d.lesson, task: d.task, error: (err as Error).message });
        this.tell(d.labId, 'warn', `Your progress could not be saved just now (${(err as Error).message}); it is kept and saved when the store is back.`);
        if (this.waiting.length < MAX_WAITING) this.waiting.push(d);
        this.retrySoon();
      }
      return false;
    }
  }

  private retrySoon() {
    if (this.timer) return;
    this.timer = setTimeout(async () => {
      this.timer = null;
      const told = new Set<string>();
      while (this.waiting.length) {
        const d = this.waiting[0]!;
        if (!(await this.write(d, !told.has(d.labId)))) break;
        told.add(d.labId);
        this.waiting.shift();
      }
      if (this.waiting.length) this.retrySoon();
    }, RETRY_MS);
    this.timer.unref();
  }

  /** Writes that wait for the store. */
  get pending(): number {
    return this.waiting.length;
  }

  stop() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

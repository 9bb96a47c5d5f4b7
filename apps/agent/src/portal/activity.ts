// What a portal's learners do, told to the portal: a lab opened or closed, a task done for the
// first time, a lesson complete. A key's learners get webhook events (webhooks.ts); an LMS's
// learners get grades (the LTI tool's `onTaskDone`). Anyone else's activity is nobody's
// business here. Every lookup goes through the store; failures are logged, never thrown at the
// lab's events.
import type { PortalUserRow, Store } from '../store/index.js';
import type { Webhooks } from './webhooks.js';

/** Sessions whose portal user (or their absence) is remembered, at most. */
const MAX_CACHED = 10_000;

export interface TaskDoneFacts {
  sessionId: string;
  lesson: string;
  task: string;
  at: Date;
  /** The lesson's tasks this session has done, this one included. */
  tasksDone: number;
  tasksTotal: number;
  /** The portal user (its source says whose: 'key:...' or 'lti:...'). */
  user: PortalUserRow;
}

export class PortalActivity {
  private readonly users = new Map<string, PortalUserRow | null>();
  /** Called for every first-time task of a portal user (the LTI tool sends a grade from it). */
  onTaskDone: ((facts: TaskDoneFacts) => Promise<void>) | null = null;

  constructor(
    private readonly store: Store,
    private readonly webhooks: Webhooks,
    /** The task ids of a lesson, in its order (undefined: no such lesson). */
    private readonly tasksOf: (lesson: string) => string[] | undefined,
    private readonly log: (msg: string, extra: Record<string, unknown>) => void,
  ) {}

  /** The portal user a session belongs to, or null (a plain browser session). */
  async userOf(sessionId: string): Promise<PortalUserRow | null> {
    if (this.users.has(sessionId)) return this.users.get(sessionId) ?? null;
    const u = (await this.store.portal.portalUser(sessionId)) ?? null;
    if (this.users.size >= MAX_CACHED) this.users.delete(this.users.keys().next().value!);
    this.users.set(sessionId, u);
    return u;
  }

  /** A launch (re)recorded this session: forget what was cached of it. */
  forget(sessionId: string): void {
    this.users.delete(sessionId);
  }

  labOpened(sessionId: string, lab: string, lesson: string): void {
    this.safely('lab.opened', async () => {
      const u = await this.userOf(sessionId);
      const key = u && keyOf(u);
      if (key) await this.webhooks.emit(key, u.user, 'lab.opened', { lesson, lab, at: new Date().toISOString() });
    });
  }

  labClosed(sessionId: string, lab: string, lesson: string, reason: string): void {
    this.safely('lab.closed', async () => {
      const u = await this.userOf(sessionId);
      const key = u && keyOf(u);
      if (key) await this.webhooks.emit(key, u.user, 'lab.closed', { lesson, lab, reason: reason.slice(0, 200), at: new Date().toISOString() });
    });
  }

  /** A task done for the first time by this session. */
  taskDone(sessionId: string, lesson: string, task: string, at: Date): Promise<void> {
    return this.safely('task.completed', async () => {
      const u = await this.userOf(sessionId);
      if (!u) return;
      const tasks = this.tasksOf(lesson) ?? [];
      const done = new Set((await this.store.progress(sessionId)).filter((t) => t.lesson === lesson).map((t) => t.task));
      const tasksDone = tasks.filter((t) => done.has(t)).length;
      const key = keyOf(u);
      if (key) {
        await this.webhooks.emit(key, u.user, 'task.completed', { lesson, task, at: at.toISOString(), tasksDone, tasksTotal: tasks.length });
        if (tasks.length > 0 && tasksDone === tasks.length) {
          await this.webhooks.emit(key, u.user, 'lesson.completed', { lesson, at: at.toISOString(), tasksTotal: tasks.length });
        }
      }
      await this.onTaskDone?.({ sessionId, lesson, task, at, tasksDone, tasksTotal: tasks.length, user: u });
    });
  }

  private readonly inFlight = new Set<Promise<void>>();

  private safely(what: string, fn: () => Promise<void>): Promise<void> {
    const p = fn()
      .catch((err: Error) => this.log('could not queue a portal event', { event: what, error: err.message }))
      .finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
    return p;
  }

  /** Resolves when every event being queued is in the store (before the store closes). */
  async settle(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }
}

/** The key id of a key's user, or null (an LMS's user). */
function keyOf(u: PortalUserRow): string | null {
  return u.source.startsWith('key:') ? u.source.slice(4) : null;
}

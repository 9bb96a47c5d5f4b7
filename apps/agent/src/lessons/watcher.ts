// Live views of a lab for the clients watching it: its task statuses and its namespace picture,
// recomputed about once a second while anyone watches, and soon after a command is typed (a
// process a lesson starts and stops again a moment later is still seen), pushed only when they
// change.
import { EventEmitter } from 'node:events';
import type { Picture, TaskDef, TaskStatus } from '@nslab/shared';
import type { LessonLab } from './view.js';
import { checkTasks } from './checker.js';
import { takePictureWithFacts } from '../inspect/picture.js';

// biome-ignore lint/suspicious/noExplicitAny: a registry of labs of every lesson's own type
type Lab = LessonLab<any>;

const PERIOD_MS = 1000;
/** How soon after a command (a line typed in a pane) the lab is checked again. */
const SOON_MS = 150;
/** Checks of one lab are at least this far apart, however fast commands come (a script typing). */
const MIN_GAP_MS = 400;

export class LabWatcher extends EventEmitter<{
  tasks: [TaskStatus[]];
  picture: [Picture];
  done: [taskId: string];
  /** Something the watching clients should be told (progress that could not be saved). */
  notice: [level: 'info' | 'warn', message: string];
}> {
  private watchers = 0;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private soonTimer: NodeJS.Timeout | null = null;
  /** A check was asked for while one ran: run one more after it (it may have started too early). */
  private again = false;
  private lastStart = 0;
  private lastTasks = '';
  private lastPicture = '';
  private readonly doneOnce = new Set<string>();
  tasks: TaskStatus[] = [];
  picture: Picture | null = null;

  constructor(
    private readonly lab: Lab,
    private taskDefs: TaskDef[],
  ) {
    super();
    this.setMaxListeners(0);
  }

  /** The lesson's tasks changed (its file was edited, with watching on): check the new ones from now on. */
  setTasks(defs: TaskDef[]) {
    if (JSON.stringify(defs) === JSON.stringify(this.taskDefs)) return;
    // A task whose check changed is judged again by its new check: "once done, stays done" holds
    // for one check, not for whatever the author writes next.
    const before = new Map(this.taskDefs.map((t) => [t.id, JSON.stringify(t.check)]));
    for (const t of defs) if (before.get(t.id) !== JSON.stringify(t.check)) this.doneOnce.delete(t.id);
    this.taskDefs = defs;
    this.lastTasks = '';
    if (this.watchers > 0) {
      if (this.running) this.again = true;
      else void this.tick();
    }
  }

  /** Start watching; returns the function that stops. */
  watch(): () => void {
    this.watchers++;
    if (!this.timer) this.timer = setInterval(() => void this.tick(), PERIOD_MS);
    void this.tick();
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      if (--this.watchers === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
        if (this.soonTimer) clearTimeout(this.soonTimer);
        this.soonTimer = null;
      }
    };
  }

  /** A command was typed in the lab: check it again soon (once, however many lines come). */
  soon() {
    if (this.watchers === 0 || this.soonTimer) return;
    const wait = Math.max(SOON_MS, this.lastStart + MIN_GAP_MS - performance.now());
    this.soonTimer = setTimeout(() => {
      this.soonTimer = null;
      if (this.running) this.again = true;
      else void this.tick();
    }, wait);
  }

  /** Check now (a learner's "check" button, or a new watcher). */
  async tick(): Promise<void> {
    if (this.running || this.lab.state !== 'open') return;
    this.running = true;
    this.lastStart = performance.now();
    try {
      // The picture and the checks at once, and only the checks of tasks not done yet (a task
      // once done stays done in this lab: the lessons go on to experiments, kill the process,
      // change the propagation, that undo the state its check looks at). On a busy machine a
      // check is an exec that may take seconds: a tick must not wait for the picture first, nor
      // for checks whose answer is known. A picture that cannot be taken costs the picture only.
      const pending = this.taskDefs.filter((t) => !this.doneOnce.has(t.id));
      const [picture, checked] = await Promise.all([takePictureWithFacts(this.lab).catch(() => null), checkTasks(this.lab, pending)]);
      if (picture) {
        const p = JSON.stringify(picture);
        if (p !== this.lastPicture) {
          this.lastPicture = p;
          this.picture = picture;
          this.emit('picture', picture);
        }
      }
      const byId = new Map(checked.map((t) => [t.id, t]));
      const tasks = this.taskDefs.map((def): TaskStatus => {
        const t = byId.get(def.id);
        if (!t) return { id: def.id, status: 'done' };
        if (t.status === 'done' && !this.doneOnce.has(t.id)) {
          this.doneOnce.add(t.id);
          this.emit('done', t.id);
        }
        return t;
      });
      const t = JSON.stringify(tasks.map((x) => [x.id, x.status]));
      this.tasks = tasks;
      if (t !== this.lastTasks) {
        this.lastTasks = t;
        this.emit('tasks', tasks);
      }
    } catch {
      /* the lab is closing */
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        if (this.watchers > 0) void this.tick();
      }
    }
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.soonTimer) clearTimeout(this.soonTimer);
    this.soonTimer = null;
    this.again = false;
    this.removeAllListeners();
  }
}

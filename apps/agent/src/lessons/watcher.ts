// Live views of a lab for the clients watching it: its task statuses and its namespace picture,
// recomputed about once a second while anyone watches, pushed only when they change.
import { EventEmitter } from 'node:events';
import type { Picture, TaskDef, TaskStatus } from '@nslab/shared';
import type { LessonLab } from './view.js';

// biome-ignore lint/suspicious/noExplicitAny: a registry of labs of every lesson's own type
type Lab = LessonLab<any>;
import { checkTasks } from './checker.js';
import { takePictureWithFacts } from '../inspect/picture.js';

const PERIOD_MS = 1000;

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
  private lastTasks = '';
  private lastPicture = '';
  private readonly doneOnce = new Set<string>();
  tasks: TaskStatus[] = [];
  picture: Picture | null = null;

  constructor(
    private readonly lab: Lab,
    private readonly taskDefs: TaskDef[],
  ) {
    super();
    this.setMaxListeners(0);
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
      }
    };
  }

  /** Check now (a learner's "check" button, or a new watcher). */
  async tick(): Promise<void> {
    if (this.running || this.lab.state !== 'open') return;
    this.running = true;
    try {
      const picture = await takePictureWithFacts(this.lab);
      const p = JSON.stringify(picture);
      if (p !== this.lastPicture) {
        this.lastPicture = p;
        this.picture = picture;
        this.emit('picture', picture);
      }
      // A task once done stays done in this lab: the lessons go on to experiments (kill the
      // process, change the propagation) that undo the state its check looks at.
      const tasks = (await checkTasks(this.lab, this.taskDefs)).map((t): TaskStatus => {
        if (t.status === 'done' && !this.doneOnce.has(t.id)) {
          this.doneOnce.add(t.id);
          this.emit('done', t.id);
        }
        return t.status !== 'done' && this.doneOnce.has(t.id) ? { id: t.id, status: 'done' } : t;
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
    }
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.removeAllListeners();
  }
}

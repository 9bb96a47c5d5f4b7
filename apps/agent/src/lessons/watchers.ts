// The watchers of every lab that runs a lesson, owned here rather than by the labs: the sandbox
// knows nothing of lessons. A watcher is made on first use and stopped when its lab closes.
import type { TaskDef } from '@nslab/shared';
import { LabWatcher } from './watcher.js';
import type { LessonLab } from './view.js';

// biome-ignore lint/suspicious/noExplicitAny: a registry of labs of every lesson's own type
type WatchedLab = LessonLab<any> & { readonly lesson: { readonly id: string } | null };

export class LabWatchers {
  private readonly byLab = new Map<string, LabWatcher>();
  private readonly lessonOf = new Map<string, string>();

  /** `onDone`: a task was done for the first time in a lab (for the learner's progress). */
  constructor(
    private readonly tasksOf: (lessonId: string) => TaskDef[] | undefined,
    private readonly onDone: (labId: string, lessonId: string, taskId: string) => void = () => {},
  ) {}

  /** The watcher of a lab, or null while the lab runs no lesson (or is closed). */
  of(lab: WatchedLab): LabWatcher | null {
    if (lab.state !== 'open' || !lab.lesson) return null;
    let w = this.byLab.get(lab.id);
    if (!w) {
      w = new LabWatcher(lab, this.tasksOf(lab.lesson.id) ?? []);
      const lesson = lab.lesson.id;
      w.on('done', (task) => this.onDone(lab.id, lesson, task));
      this.byLab.set(lab.id, w);
      this.lessonOf.set(lab.id, lesson);
    }
    return w;
  }

  /** The lessons were reloaded: every watcher checks its lesson's tasks as they are now. */
  retask(changed: readonly string[]) {
    for (const [labId, w] of this.byLab) {
      const lesson = this.lessonOf.get(labId);
      if (lesson && changed.includes(lesson)) w.setTasks(this.tasksOf(lesson) ?? []);
    }
  }

  /** A command was typed in a lab: its watcher (if anyone watches) checks it again soon. */
  nudge(labId: string) {
    this.byLab.get(labId)?.soon();
  }

  /** Tell the clients watching a lab. */
  notify(labId: string, level: 'info' | 'warn', message: string) {
    this.byLab.get(labId)?.emit('notice', level, message);
  }

  /** The lab closed: its watcher stops and is dropped. */
  forget(labId: string) {
    this.byLab.get(labId)?.stop();
    this.byLab.delete(labId);
    this.lessonOf.delete(labId);
  }

  get size(): number {
    return this.byLab.size;
  }
}

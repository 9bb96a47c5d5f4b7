// The watchers of every lab that runs a lesson, owned here rather than by the labs: the sandbox
// knows nothing of lessons. A watcher is made on first use and stopped when its lab closes.
import type { TaskDef } from '@nslab/shared';
import { LabWatcher } from './watcher.js';
import type { LessonLab } from './view.js';

// biome-ignore lint/suspicious/noExplicitAny: a registry of labs of every lesson's own type
type WatchedLab = LessonLab<any> & { readonly lesson: { readonly id: string } | null };

export class LabWatchers {
  private readonly byLab = new Map<string, LabWatcher>();

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
    }
    return w;
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
  }

  get size(): number {
    return this.byLab.size;
  }
}

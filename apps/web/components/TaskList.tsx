// A lesson's task list, the same on the lesson page and on the watch page: a heading with how many
// are done, each task with its check mark (data-task, data-status: the tests read them), marked
// all done once every task is. The page adds what is its own: buttons in the head (Check now),
// a line under a task (the step it belongs to), what shows once all are done (the next lesson).
import type { ReactNode } from 'react';
import type { Strings } from '../lib/i18n';

/** One task of a lesson, with its check mark; `meta` goes below its title. */
export function TaskItem({ id, title, done, s, meta }: { id: string; title: string; done: boolean; s: Strings; meta?: ReactNode }) {
  const st = done ? 'done' : 'pending';
  return (
    <li data-task={id} data-status={st} className={`task ${st}`}>
      <span className="task-check" aria-hidden="true">
        <svg viewBox="0 0 20 20" aria-hidden="true" focusable="false">
          <title>✓</title>
          <path d="M5 10.5l3.2 3.2L15 7" fill="none" stroke="currentColor" strokeWidth="2.4" strokeLinecap="round" strokeLinejoin="round" />
        </svg>
      </span>
      <span className="task-title">{title}</span>
      <span className="sr-only">{done ? s.taskDone : s.taskPending}</span>
      {meta ? <span className="task-meta">{meta}</span> : null}
    </li>
  );
}

interface Props<T extends { id: string; title: string }> {
  tasks: readonly T[];
  done(id: string): boolean;
  heading: ReactNode;
  /** The heading's id (the section is labelled by it). */
  headingId: string;
  s: Strings;
  /** The section's own id (a link target) and classes besides `tasks`. */
  id?: string;
  className?: string;
  /** After the count in the head. */
  actions?: ReactNode;
  /** Below a task's title. */
  meta?(task: T, done: boolean): ReactNode;
  /** Below the list, once every task is done. */
  allDone?: ReactNode;
}

export function TaskList<T extends { id: string; title: string }>({ tasks, done, heading, headingId, s, id, className, actions, meta, allDone }: Props<T>) {
  const doneCount = tasks.filter((t) => done(t.id)).length;
  const all = doneCount === tasks.length && tasks.length > 0;
  return (
    <section className={`tasks${className ? ` ${className}` : ''}${all ? ' all-done' : ''}`} aria-labelledby={headingId} id={id}>
      <div className="tasks-head">
        <h2 id={headingId}>{heading}</h2>
        <span className="tasks-count" data-done={doneCount}>
          {doneCount}/{tasks.length}
        </span>
        {actions}
      </div>
      <ul className="task-list">
        {tasks.map((t) => {
          const d = done(t.id);
          return <TaskItem key={t.id} id={t.id} title={t.title} done={d} s={s} meta={meta?.(t, d)} />;
        })}
      </ul>
      {all && allDone ? allDone : null}
    </section>
  );
}

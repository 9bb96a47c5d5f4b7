'use client';
// A lesson card's progress on the course page: tasks done / total, as the agent keeps it for this
// browser (cached in localStorage).
import { useEffect, useState } from 'react';
import type { Lang } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import { doneTasks, subscribeProgress, syncProgress } from '../lib/progress';

export function LessonProgress({ lesson, taskIds, lang }: { lesson: string; taskIds: string[]; lang: Lang }) {
  const s = STRINGS[lang];
  const [done, setDone] = useState<number | null>(null);
  useEffect(() => {
    const read = () => {
      const d = doneTasks(lesson);
      setDone(taskIds.filter((t) => d.has(t)).length);
    };
    read();
    const off = subscribeProgress(read);
    void syncProgress();
    return off;
  }, [lesson, taskIds]);
  const total = taskIds.length;
  const n = done ?? 0;
  const state = n === 0 ? 'none' : n >= total ? 'complete' : 'partial';
  return (
    <div className="progress" data-progress={state} data-done={n} data-total={total}>
      <div className="progress-bar" role="progressbar" aria-valuemin={0} aria-valuemax={total} aria-valuenow={n}>
        <span style={{ width: `${total ? (100 * n) / total : 0}%` }} />
      </div>
      <span className="progress-text">
        {state === 'complete' ? `✓ ${s.completed} · ` : ''}
        {s.tasksProgress(n, total)}
      </span>
    </div>
  );
}

'use client';
// The lesson page's live part, all fed by one LabSession (lib/session.ts): the text column
// (LessonText) and the workbench with the panes and the namespace picture (LessonBench), split
// where the learner left it (lib/layout.ts); on a phone one column with a bar to move about.
import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { Lang } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import { LabSession } from '../lib/session';
import { doneTasks, markDone } from '../lib/progress';
import { useLessonLayout } from '../lib/layout';
import type { LessonPageData } from '../lib/content';
import { useSessionHandle } from './useSessionHandle';
import { LessonColumns } from './LessonColumns';

export function LessonWorkspace({ lang, data }: { lang: Lang; data: LessonPageData }) {
  const s = STRINGS[lang];
  const paneNames = useMemo(() => data.panes.map((p) => p.name), [data.panes]);
  const [session] = useState(() => new LabSession(data.id, paneNames, { newLabNotice: s.newLabNotice }));
  const state = useSyncExternalStore(session.subscribe, session.getState, session.getState);
  const [earlier, setEarlier] = useState<Set<string>>(new Set());
  const [layout, setLayout] = useLessonLayout();
  const lastRun = useRef<HTMLElement | null>(null);

  useEffect(() => {
    session.start();
    return () => session.stop();
  }, [session]);

  useEffect(() => {
    setEarlier(doneTasks(data.id));
  }, [data.id]);

  useSessionHandle(session, state.labId);

  // A task once done stays done in the course progress.
  useEffect(() => {
    if (!state.tasks) return;
    const done = Object.entries(state.tasks)
      .filter(([, v]) => v === 'done')
      .map(([k]) => k);
    if (markDone(data.id, done)) setEarlier(doneTasks(data.id));
  }, [state.tasks, data.id]);

  return <LessonColumns lang={lang} data={data} session={session} state={state} layout={layout} setLayout={setLayout} earlier={earlier} lastRun={lastRun} />;
}

'use client';
// The lesson page's live part, all fed by one LabSession (lib/session.ts): the text column
// (LessonText) and the workbench with the panes and the namespace picture (LessonBench), split
// where the learner left it (lib/layout.ts); on a phone one column with a bar to move about.
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { Lang } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import { LabSession } from '../lib/session';
import { doneTasks, markDone } from '../lib/progress';
import { useLessonLayout } from '../lib/layout';
import type { LessonPageData } from '../lib/content';
import { nslabHandle } from '../lib/nslab-handle';
import { Splitter } from './Splitter';
import { LessonText } from './LessonText';
import { LessonBench } from './LessonBench';

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

  useEffect(() => {
    const nslab = nslabHandle();
    nslab.lab = state.labId;
    nslab.offsets = () => session.offsets();
    nslab.drop = (forMs?: number) => session.dropConnection(forMs);
  }, [state.labId, session]);

  // A task once done stays done in the course progress.
  useEffect(() => {
    if (!state.tasks) return;
    const done = Object.entries(state.tasks)
      .filter(([, v]) => v === 'done')
      .map(([k]) => k);
    if (markDone(data.id, done)) setEarlier(doneTasks(data.id));
  }, [state.tasks, data.id]);

  const status = useCallback((id: string) => (state.tasks?.[id] === 'done' ? 'done' : 'pending'), [state.tasks]);
  const doneCount = data.tasks.filter((t) => status(t.id) === 'done').length;

  return (
    <div className="lesson-layout" style={{ ['--text-frac' as string]: String(layout.text) }}>
      <LessonText
        lang={lang}
        data={data}
        session={session}
        ready={state.phase === 'ready'}
        checking={state.checking}
        status={status}
        earlier={earlier}
        lastRun={lastRun}
      />
      <Splitter orientation="vertical" value={layout.text} onChange={(f) => setLayout({ text: f })} label={s.resizeSplit} />
      <LessonBench lang={lang} data={data} session={session} state={state} layout={layout} setLayout={setLayout} />
      <nav className="mobile-nav" aria-label={s.lesson}>
        <button type="button" onClick={() => (lastRun.current ?? document.getElementById('lesson'))?.scrollIntoView({ behavior: 'smooth', block: 'center' })}>
          {s.lesson}
        </button>
        <a href="#shells">{s.shells}</a>
        <a href="#picture">{s.picture}</a>
        <a href="#tasks" className="mobile-progress">
          {doneCount}/{data.tasks.length}
        </a>
      </nav>
    </div>
  );
}

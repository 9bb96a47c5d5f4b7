'use client';
// The lesson's two columns, as the lesson page and the embed view both show them: the text
// (LessonText) and the workbench with the panes and the picture (LessonBench), split where the
// learner left it (lib/layout.ts); on a phone one column with a bar to move about.
import { useCallback, type RefObject } from 'react';
import type { Lang } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import type { LabSession, SessionState } from '../lib/session';
import type { useLessonLayout } from '../lib/layout';
import type { LessonPageData } from '../lib/content';
import { Splitter } from './Splitter';
import { LessonText } from './LessonText';
import { LessonBench } from './LessonBench';

export function LessonColumns(props: {
  lang: Lang;
  data: LessonPageData;
  session: LabSession;
  state: SessionState;
  layout: ReturnType<typeof useLessonLayout>[0];
  setLayout: ReturnType<typeof useLessonLayout>[1];
  earlier: Set<string>;
  lastRun: RefObject<HTMLElement | null>;
}) {
  const { lang, data, session, state, layout, setLayout, earlier, lastRun } = props;
  const s = STRINGS[lang];
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

'use client';
// One learner's panes for their workshop's instructor: live and read-only, with their tasks and
// namespace picture, and a take-over the learner must allow. The instructor key comes from the
// page's fragment (#key=); this page shows it to the agent, gets a read-only link to the
// learner's lab, and watches it on a connection that may type once the learner says Allow.
// STABLE HOOKS: [data-pane="<name>"], button[data-takeover-request].
import { useEffect, useState } from 'react';
import type { Lang } from '@nslab/shared';
import { errorMessage, withConnection } from '../lib/socket';
import { InstructorWatch, type WatchSession, type WatchState } from '../lib/watch';
import { WORKSHOP_STRINGS } from '../lib/workshop-strings';
import { WatchWorkspace, type WatchLesson } from './WatchWorkspace';

function TakeoverBar({ state, session, lang }: { state: WatchState; session: WatchSession; lang: Lang }) {
  const s = WORKSHOP_STRINGS[lang];
  const iw = session as InstructorWatch;
  return (
    <div className="takeover-bar" data-takeover-state={state.takeover}>
      {state.takeover === 'allowed' ? (
        <>
          <span>{s.takeoverAllowed}</span>
          <button type="button" className="quiet" data-takeover-end onClick={() => void iw.endTakeover()}>
            {s.takeoverEnd}
          </button>
        </>
      ) : (
        <>
          <button type="button" data-takeover-request disabled={state.takeover === 'asked'} onClick={() => void iw.requestTakeover()}>
            {s.takeoverRequest}
          </button>
          <span>
            {state.takeover === 'asked' ? s.takeoverAsked : state.takeover === 'denied' ? s.takeoverDenied : state.takeover === 'ended' ? s.takeoverEnded : ''}
          </span>
        </>
      )}
    </div>
  );
}

export function LearnerWatch({ lang, workshop, seat, lessons }: { lang: Lang; workshop: string; seat: string; lessons: Record<string, WatchLesson> }) {
  const s = WORKSHOP_STRINGS[lang];
  const [problem, setProblem] = useState<string | null>(null);
  const [view, setView] = useState<{ token: string; key: string } | null>(null);
  useEffect(() => {
    const raw = /(?:^#|&)key=([^&]+)/.exec(window.location.hash)?.[1];
    if (!raw) {
      setProblem(s.noKey);
      return;
    }
    const key = decodeURIComponent(raw);
    let gone = false;
    withConnection(async (socket) => {
      await socket.request({ type: 'instructor', workshop, key });
      return (await socket.request({ type: 'workshop-watch', workshop, seat })).token;
    }).then(
      (token) => !gone && setView({ token, key }),
      (err: unknown) => !gone && setProblem(errorMessage(err)),
    );
    return () => {
      gone = true;
    };
  }, [workshop, seat, s.noKey]);

  if (problem)
    return (
      <p className="dash dash-note" data-watch-error>
        {problem}
      </p>
    );
  if (!view) return <p className="dash">{s.connectingRoom}</p>;
  return (
    <WatchWorkspace
      lang={lang}
      lessons={lessons}
      options={{
        token: view.token,
        makeSession: (t) => new InstructorWatch(t, workshop, view.key, seat),
        writable: (st) => st.takeover === 'allowed',
        toolbar: (st, session) => <TakeoverBar state={st} session={session} lang={lang} />,
      }}
    />
  );
}

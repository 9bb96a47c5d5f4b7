'use client';
// The watch page's live part: a shared lab's panes, read-only at the writer's size, its tasks and
// its namespace picture, fed by one WatchSession (lib/watch.ts).
import { Fragment, useEffect, useState, useSyncExternalStore } from 'react';
import type { Lang, NamespaceType } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import { WatchSession, type WatchState } from '../lib/watch';
import { TerminalPane, nslabHandle } from './TerminalPane';
import { NsGraph } from './NsGraph';

export interface WatchLesson {
  id: string;
  index: number;
  title: string;
  panes: { name: string; title: string | null; unshare: NamespaceType[] }[];
  tasks: { id: string; step: string; title: string }[];
  types: NamespaceType[];
}

const NO_SESSION = new WatchSession(null);

function StatusLine({ state, lang, lesson, session }: { state: WatchState; lang: Lang; lesson: WatchLesson | null; session: WatchSession }) {
  const s = STRINGS[lang];
  let text: string;
  let tone: 'ok' | 'wait' | 'bad';
  let retry = false;
  switch (state.phase) {
    case 'no-link':
      text = s.watchNoLink;
      tone = 'bad';
      break;
    case 'connecting':
      text = s.watchConnecting;
      tone = 'wait';
      break;
    case 'opening':
      text = s.watchOpening;
      tone = 'wait';
      break;
    case 'live':
      text = s.watchLive(lesson?.title ?? state.lab?.lesson ?? '');
      tone = 'ok';
      break;
    case 'unreachable':
      text = s.connUnreachable(state.retryIn);
      tone = 'bad';
      retry = true;
      break;
    case 'bad-link':
      text = s.watchBadLink;
      tone = 'bad';
      retry = true;
      break;
    case 'closed':
      text = s.watchClosed(s.labClosedReason(state.message ?? ''));
      tone = 'bad';
      break;
    case 'error':
    default:
      text = s.connError(state.message ?? '');
      tone = 'bad';
      retry = true;
  }
  return (
    <div className={`connline tone-${tone}`} role="status" aria-live="polite" data-watch={state.phase}>
      <span className="conn-dot" aria-hidden="true" />
      <span className="watch-badge">{s.watchBadge}</span>
      <span className="conn-text">{text}</span>
      {state.lab ? (
        <span className="conn-lab" title={state.lab.id}>
          {s.labLabel} <code>{state.lab.id.slice(0, 8)}</code>
        </span>
      ) : null}
      {retry ? (
        <button type="button" className="btn btn-small" onClick={() => session.retryNow()}>
          {state.phase === 'unreachable' ? s.retryNow : s.watchTryAgain}
        </button>
      ) : null}
    </div>
  );
}

export function WatchWorkspace({ lang, lessons }: { lang: Lang; lessons: Record<string, WatchLesson> }) {
  const s = STRINGS[lang];
  // The token is in the fragment: known in the browser only, so the session starts after mount.
  const [session, setSession] = useState<WatchSession>(NO_SESSION);
  const state = useSyncExternalStore(session.subscribe, session.getState, session.getState);

  useEffect(() => {
    const read = () => decodeURIComponent(location.hash.replace(/^#/, '')).trim() || null;
    let current = new WatchSession(read());
    setSession(current);
    current.start();
    // Keep the link when switching languages (an <a href> would drop the fragment).
    const keepHash = () =>
      document.querySelectorAll<HTMLAnchorElement>('[data-lang-switch]').forEach((a) => {
        a.href = `${a.pathname}${location.hash}`;
      });
    keepHash();
    const onHash = () => {
      current.stop();
      current = new WatchSession(read());
      setSession(current);
      current.start();
      keepHash();
    };
    window.addEventListener('hashchange', onHash);
    return () => {
      window.removeEventListener('hashchange', onHash);
      current.stop();
    };
  }, []);

  useEffect(() => {
    const nslab = nslabHandle();
    nslab.readOnly = true;
    nslab.lab = state.lab?.id ?? null;
    nslab.offsets = () => session.offsets();
  }, [state.lab, session]);

  const lesson = state.lab ? (lessons[state.lab.lesson] ?? null) : null;
  const panes = lesson?.panes ?? state.lab?.panes.map((p) => ({ name: p.name, title: null, unshare: p.unshare as NamespaceType[] })) ?? [];
  const live = state.phase === 'live';

  return (
    <div className="watch-layout">
      <section className="bench" aria-label={s.shells}>
        <StatusLine state={state} lang={lang} lesson={lesson} session={session} />
        {state.lab ? (
          <>
            <div className="panes watch-panes">
              {panes.map((p, i) => (
                <Fragment key={p.name}>
                  {i > 0 ? <div className="watch-gap" aria-hidden="true" /> : null}
                  <TerminalPane name={p.name} title={p.title} unshare={p.unshare} lang={lang} session={session} state={state.panes[p.name]} ready={live} readOnly />
                </Fragment>
              ))}
            </div>
            <div className="watch-below">
              {lesson ? (
                <section className="tasks watch-tasks" aria-labelledby="watch-tasks-h">
                  <div className="tasks-head">
                    <h2 id="watch-tasks-h">
                      {s.lessonN(lesson.index)} · {lesson.title}
                    </h2>
                    <span className="tasks-count">
                      {lesson.tasks.filter((t) => state.tasks?.[t.id] === 'done').length}/{lesson.tasks.length}
                    </span>
                  </div>
                  <ul className="task-list">
                    {lesson.tasks.map((t) => {
                      const st = state.tasks?.[t.id] === 'done' ? 'done' : 'pending';
                      return (
                        <li key={t.id} data-task={t.id} data-status={st} className={`task ${st}`}>
                          <span className="task-check" aria-hidden="true">
                            <svg viewBox="0 0 20 20">
                              <path d="M5 10.5l3.2 3.2L15 7" fill="none" stroke="currentColor" strokeWidth="2.4" strokeLinecap="round" strokeLinejoin="round" />
                            </svg>
                          </span>
                          <span className="task-title">{t.title}</span>
                          <span className="sr-only">{st === 'done' ? s.taskDone : s.taskPending}</span>
                        </li>
                      );
                    })}
                  </ul>
                </section>
              ) : null}
              <div className="picture-wrap">
                <NsGraph picture={state.picture} types={lesson?.types ?? []} lang={lang} live={live} />
              </div>
            </div>
          </>
        ) : null}
      </section>
    </div>
  );
}

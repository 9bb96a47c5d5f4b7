'use client';
// The watch page's live part: a shared lab's panes, read-only at the writer's size, its tasks and
// its namespace picture, fed by one WatchSession (lib/watch.ts).
import { Fragment, type ReactNode, useEffect, useState, useSyncExternalStore } from 'react';
import type { Lang, NamespaceType } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import type { WatchLesson } from '../lib/content';
import { WatchSession, type WatchState } from '../lib/watch';
import { nslabHandle } from '../lib/nslab-handle';
import { TerminalPane } from './TerminalPane';
import { NsGraph } from './NsGraph';
import { StatusLine, connectionStatus } from './StatusLine';
import { TaskList } from './TaskList';

export type { WatchLesson } from '../lib/content';

const NO_SESSION = new WatchSession(null);

function WatchStatus({ state, lang, lesson, session }: { state: WatchState; lang: Lang; lesson: WatchLesson | null; session: WatchSession }) {
  const s = STRINGS[lang];
  let status = connectionStatus(state, s, { connecting: s.watchConnecting, opening: s.watchOpening });
  if (!status) {
    switch (state.phase) {
      case 'no-link':
        status = { text: s.watchNoLink, tone: 'bad' };
        break;
      case 'live':
        status = { text: s.watchLive(lesson?.title ?? state.lab?.lesson ?? ''), tone: 'ok' };
        break;
      case 'bad-link':
        status = { text: s.watchBadLink, tone: 'bad', retry: true };
        break;
      case 'closed':
        status = { text: s.watchClosed(s.labClosedReason(state.message ?? '')), tone: 'bad' };
        break;
      default:
        status = { text: s.connError(state.message ?? ''), tone: 'bad', retry: true };
    }
  }
  return (
    <StatusLine status={status} attrs={{ 'data-watch': state.phase }} badge={s.watchBadge} labId={state.lab?.id ?? null} s={s}>
      {status.retry ? (
        <button type="button" className="btn btn-small" onClick={() => session.retryNow()}>
          {state.phase === 'unreachable' ? s.retryNow : s.watchTryAgain}
        </button>
      ) : null}
    </StatusLine>
  );
}

export interface WatchOptions {
  /** The read-only link's token (default: the page's fragment). */
  token?: string;
  /** Makes the session (default: a plain read-only WatchSession). */
  makeSession?: (token: string | null) => WatchSession;
  /** May type in the panes now (an allowed take-over). */
  writable?: (state: WatchState) => boolean;
  /** Above the panes (the instructor's take-over controls). */
  toolbar?: (state: WatchState, session: WatchSession) => ReactNode;
}

export function WatchWorkspace({ lang, lessons, options = {} }: { lang: Lang; lessons: Record<string, WatchLesson>; options?: WatchOptions }) {
  const s = STRINGS[lang];
  // The token is in the fragment: known in the browser only, so the session starts after mount.
  const [session, setSession] = useState<WatchSession>(NO_SESSION);
  const state = useSyncExternalStore(session.subscribe, session.getState, session.getState);

  // biome-ignore lint/correctness/useExhaustiveDependencies: the options are fixed for the page's life
  useEffect(() => {
    const fixed = options.token;
    const read = () => fixed ?? (decodeURIComponent(location.hash.replace(/^#/, '')).trim() || null);
    const make = options.makeSession ?? ((t: string | null) => new WatchSession(t));
    let current = make(read());
    setSession(current);
    current.start();
    // Keep the link when switching languages (an <a href> would drop the fragment).
    const keepHash = () =>
      document.querySelectorAll<HTMLAnchorElement>('[data-lang-switch]').forEach((a) => {
        a.href = `${a.pathname}${location.hash}`;
      });
    keepHash();
    const onHash = () => {
      if (fixed) return;
      current.stop();
      current = make(read());
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
  const writable = options.writable?.(state) ?? false;

  return (
    <div className="watch-layout">
      <section className="bench" aria-label={s.shells}>
        <WatchStatus state={state} lang={lang} lesson={lesson} session={session} />
        {options.toolbar?.(state, session)}
        {state.lab ? (
          <>
            <div className="panes watch-panes">
              {panes.map((p, i) => (
                <Fragment key={p.name}>
                  {i > 0 ? <div className="watch-gap" aria-hidden="true" /> : null}
                  <TerminalPane
                    name={p.name}
                    title={p.title}
                    unshare={p.unshare}
                    lang={lang}
                    session={session}
                    state={state.panes[p.name]}
                    ready={live}
                    readOnly={!writable}
                  />
                </Fragment>
              ))}
            </div>
            <div className="watch-below">
              {lesson ? (
                <TaskList
                  className="watch-tasks"
                  headingId="watch-tasks-h"
                  heading={`${s.lessonN(lesson.index)} · ${lesson.title}`}
                  tasks={lesson.tasks}
                  done={(id) => state.tasks?.[id] === 'done'}
                  s={s}
                />
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

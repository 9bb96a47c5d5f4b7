'use client';
// A lesson in a training portal's frame (docs/embedding.md): the lesson page's text, tasks, panes
// and namespace picture (LessonText and LessonBench, fed by a LabSession on the embed cookie), with
// no site chrome, fitted to the frame. It asks the agent first which embedded session this is
// (lib/embed.ts): without one, a page that says to open the lesson from the portal; with one,
// the lab, a link back to the portal when the launch gave one, and the events the portal's page
// hears (ready, each task done, the lesson complete, the lab closed, the height it needs).
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { EMBED_EVENT, type EmbedContextInfo, type Lang } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import { LabSession } from '../lib/session';
import { useLessonLayout } from '../lib/layout';
import type { LessonPageData } from '../lib/content';
import { useSessionHandle } from './useSessionHandle';
import {
  EMBED_MAX_HEIGHT,
  EMBED_STRINGS,
  EmbedReporter,
  embedTargets,
  fetchEmbedContext,
  fetchEmbedProgress,
  portalName,
  postEmbedEvent,
  type EmbedLookup,
} from '../lib/embed';
import { LessonColumns } from './LessonColumns';

/** Wide enough for the two-column lesson layout, which fits the frame (narrower: one scrolling column). */
const FITTED = '(min-width: 901px)';

export function EmbedLesson({ lang, data }: { lang: Lang; data: LessonPageData }) {
  const e = EMBED_STRINGS[lang];
  const [lookup, setLookup] = useState<EmbedLookup | null>(null);
  const [attempt, setAttempt] = useState(0);

  // biome-ignore lint/correctness/useExhaustiveDependencies: attempt is the trigger (Try again)
  useEffect(() => {
    let live = true;
    setLookup(null);
    void fetchEmbedContext().then((r) => {
      if (live) setLookup(r);
    });
    return () => {
      live = false;
    };
  }, [attempt]);

  if (!lookup)
    return (
      <div className="embed-page embed-note" data-embed="loading">
        <p>{e.loading}</p>
      </div>
    );
  if (lookup.kind === 'none')
    return (
      <div className="embed-page embed-note" data-embed="no-session">
        <h1>{e.noSessionTitle}</h1>
        <p>{e.noSession}</p>
      </div>
    );
  if (lookup.kind === 'error')
    return (
      <div className="embed-page embed-note" data-embed="error">
        <h1>{e.errorTitle}</h1>
        <p>{e.error(lookup.message)}</p>
        <button type="button" className="btn" onClick={() => setAttempt((n) => n + 1)}>
          {e.retry}
        </button>
      </div>
    );
  return <EmbedWorkspace lang={lang} data={data} ctx={lookup.ctx} />;
}

function EmbedWorkspace({ lang, data, ctx }: { lang: Lang; data: LessonPageData; ctx: EmbedContextInfo }) {
  const s = STRINGS[lang];
  const e = EMBED_STRINGS[lang];
  const paneNames = useMemo(() => data.panes.map((p) => p.name), [data.panes]);
  const [session] = useState(() => new LabSession(data.id, paneNames, { newLabNotice: s.newLabNotice }, { embed: true }));
  const state = useSyncExternalStore(session.subscribe, session.getState, session.getState);
  const [earlier, setEarlier] = useState<Set<string>>(new Set());
  const [layout, setLayout] = useLessonLayout();
  const lastRun = useRef<HTMLElement | null>(null);
  const root = useRef<HTMLDivElement>(null);
  const targets = useMemo(() => embedTargets(ctx.origins), [ctx.origins]);
  const [reporter] = useState(() => new EmbedReporter(data.id, data.tasks));

  useEffect(() => {
    session.start();
    return () => session.stop();
  }, [session]);

  // What this learner did before, in earlier labs (the agent's record for their portal user).
  useEffect(() => {
    let live = true;
    void fetchEmbedProgress(data.id).then((done) => {
      if (live) setEarlier(done);
    });
    return () => {
      live = false;
    };
  }, [data.id]);

  useSessionHandle(session, state.labId);

  // The portal's page hears what happens, each thing once.
  useEffect(() => {
    for (const msg of reporter.update(state)) postEmbedEvent(targets, msg);
  }, [state, reporter, targets]);

  // The height the view needs (its bar and the fitted layout's least height), for the embed
  // script to keep the frame at least that high. A narrow frame gets one column that scrolls
  // inside it: nothing to ask.
  useEffect(() => {
    const box = root.current;
    if (!box || !targets) return;
    const fitted = window.matchMedia(FITTED);
    let sent = 0;
    const measure = () => {
      const layoutBox = box.querySelector<HTMLElement>('.lesson-layout');
      if (!fitted.matches || !layoutBox) return;
      const bar = box.querySelector<HTMLElement>('.embed-bar')?.getBoundingClientRect().height ?? 0;
      const height = Math.min(EMBED_MAX_HEIGHT, Math.ceil(bar + (Number.parseFloat(getComputedStyle(layoutBox).minHeight) || 0)));
      if (height === sent) return;
      sent = height;
      postEmbedEvent(targets, { type: EMBED_EVENT.size, height });
    };
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(box);
    fitted.addEventListener('change', measure);
    return () => {
      ro.disconnect();
      fitted.removeEventListener('change', measure);
    };
  }, [targets]);

  // A link to another page of nslab (the course, another lesson) opens beside the portal, not
  // in its frame; links within the lesson stay where they are.
  const onClickCapture = useCallback((ev: React.MouseEvent) => {
    const a = (ev.target as HTMLElement).closest<HTMLAnchorElement>('a[href]');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin === location.origin && url.pathname === location.pathname && url.search === location.search) return;
    a.target = '_blank';
    a.rel = 'noopener';
  }, []);

  const portal = ctx.returnUrl ? portalName(ctx.returnUrl) : null;

  return (
    <div className="embed-page" ref={root} data-embed="lesson" onClickCapture={onClickCapture}>
      {portal && ctx.returnUrl ? (
        <nav className="embed-bar" aria-label={e.backTo(portal)}>
          <a href={ctx.returnUrl} target="_top" data-embed-back>
            ← {e.backTo(portal)}
          </a>
        </nav>
      ) : null}
      <LessonColumns lang={lang} data={data} session={session} state={state} layout={layout} setLayout={setLayout} earlier={earlier} lastRun={lastRun} />
    </div>
  );
}

'use client';
// The lesson page's live part: the text with its Run and Copy buttons, the task list, the panes
// and the namespace picture, all fed by one LabSession (lib/session.ts).
import { Fragment, useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { Lang } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import { LabSession, type SessionState } from '../lib/session';
import { doneTasks, markDone } from '../lib/progress';
import type { LessonPageData } from '../lib/content';
import { TerminalPane, nslabHandle } from './TerminalPane';
import { NsGraph } from './NsGraph';
import { Splitter, useStoredFraction } from './Splitter';
import { StatusLine, TaskItem, connectionStatus } from './StatusLine';

/** Seconds left until `at`, ticking while there is a deadline. */
function useCountdown(at: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (at === null) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [at]);
  return at === null ? 0 : Math.max(0, Math.ceil((at - now) / 1000));
}

/** "Share read-only": mint a link to watch this lab, copy it, revoke it. */
function SharePanel({ lang, session, labId }: { lang: Lang; session: LabSession; labId: string }) {
  const s = STRINGS[lang];
  const [open, setOpen] = useState(false);
  const [link, setLink] = useState<string | null>(null);
  const [note, setNote] = useState<{ text: string; tone: 'ok' | 'bad' } | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  // A link is for one lab: a new lab needs a new link.
  useEffect(() => {
    setLink(null);
    setNote(null);
  }, [labId]);

  const mint = async () => {
    setBusy(true);
    setNote(null);
    try {
      const token = await session.share();
      if (!token) throw new Error('no token');
      const url = `${location.origin}/${lang}/watch#${token}`;
      setLink(url);
      if (await copy(url)) setNote({ text: s.shareCopied, tone: 'ok' });
      setTimeout(() => input.current?.select(), 0);
    } catch (err) {
      setNote({ text: s.shareFailed((err as Error).message), tone: 'bad' });
    } finally {
      setBusy(false);
    }
  };

  const revoke = async () => {
    setBusy(true);
    try {
      await session.share(true);
      setLink(null);
      setNote({ text: s.shareRevoked, tone: 'ok' });
    } catch (err) {
      setNote({ text: s.shareFailed((err as Error).message), tone: 'bad' });
    } finally {
      setBusy(false);
    }
  };

  return (
    <span className="share">
      <button
        type="button"
        className="link-btn"
        aria-expanded={open}
        data-share-open
        onClick={() => {
          const next = !open;
          setOpen(next);
          if (next && !link) void mint();
        }}
      >
        {s.share}
      </button>
      {open ? (
        <div className="share-pop" role="dialog" aria-label={s.shareTitle} data-share>
          <p className="share-title">{s.shareTitle}</p>
          <p className="share-explain">{s.shareExplain}</p>
          {link ? (
            <div className="share-row">
              <input ref={input} readOnly value={link} aria-label={s.shareTitle} data-share-link onFocus={(e) => e.currentTarget.select()} />
              <button type="button" className="btn btn-small" onClick={() => void copy(link).then((ok) => setNote(ok ? { text: s.shareCopied, tone: 'ok' } : null))}>
                {s.shareCopy}
              </button>
            </div>
          ) : busy ? (
            <p className="share-explain">{s.shareMaking}</p>
          ) : null}
          {note ? (
            <p className={`share-note tone-${note.tone}`} role="status" data-share-note>
              {note.text}
            </p>
          ) : null}
          <div className="share-actions">
            {link ? (
              <button type="button" className="btn btn-small" disabled={busy} onClick={() => void revoke()} data-share-revoke>
                {s.shareRevoke}
              </button>
            ) : (
              <button type="button" className="btn btn-small" disabled={busy} onClick={() => void mint()} data-share-new>
                {s.shareNew}
              </button>
            )}
            <button type="button" className="link-btn" onClick={() => setOpen(false)}>
              {s.shareClose}
            </button>
          </div>
        </div>
      ) : null}
    </span>
  );
}

function ConnLine({ state, lang, session }: { state: SessionState; lang: Lang; session: LabSession }) {
  const s = STRINGS[lang];
  const closingIn = useCountdown(state.closing?.at ?? null);
  let status = connectionStatus(state, s, { connecting: s.connConnecting, opening: s.connOpening });
  let action: { label: string; run: () => void } | null = status?.retry ? { label: s.retryNow, run: () => session.retryNow() } : null;
  if (!status) {
    switch (state.phase) {
      case 'ready':
        status = state.closing
          ? { text: s.labClosing(state.closing.reason, closingIn), tone: 'wait' }
          : { text: state.message ? `${s.connReady} · ${state.message}` : s.connReady, tone: 'ok' };
        break;
      case 'limit':
        status = { text: s.connLimit, tone: 'bad' };
        action = { label: s.retryNow, run: () => session.retryNow() };
        break;
      case 'unauthenticated':
        status = { text: s.connUnauthenticated, tone: 'bad' };
        action = { label: s.reload, run: () => location.reload() };
        break;
      case 'lab-closed':
      default:
        status = { text: s.labClosed(s.labClosedReason(state.message ?? '')), tone: 'bad' };
        action = { label: s.newLab, run: () => session.newLab() };
    }
  }
  return (
    <StatusLine status={status} attrs={{ 'data-conn': state.phase }} labId={state.labId} s={s}>
      {action ? (
        <button type="button" className="btn btn-small" onClick={action.run}>
          {action.label}
        </button>
      ) : state.phase === 'ready' ? (
        <>
          {state.labId ? <SharePanel lang={lang} session={session} labId={state.labId} /> : null}
          <button
            type="button"
            className="link-btn"
            onClick={() => {
              if (window.confirm(s.resetLabConfirm)) void session.resetLab();
            }}
          >
            {s.resetLab}
          </button>
        </>
      ) : null}
    </StatusLine>
  );
}

async function copy(text: string) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }
}

function flash(btn: HTMLElement, cls: string, text?: string) {
  const old = btn.innerHTML;
  btn.classList.add(cls);
  if (text) btn.textContent = text;
  setTimeout(() => {
    btn.classList.remove(cls);
    if (text) btn.innerHTML = old;
  }, 1200);
}

export function LessonWorkspace({ lang, data }: { lang: Lang; data: LessonPageData }) {
  const s = STRINGS[lang];
  const paneNames = useMemo(() => data.panes.map((p) => p.name), [data.panes]);
  const [session] = useState(() => new LabSession(data.id, paneNames, { newLabNotice: s.newLabNotice }));
  const state = useSyncExternalStore(session.subscribe, session.getState, session.getState);
  const [earlier, setEarlier] = useState<Set<string>>(new Set());
  const [textFrac, setTextFrac] = useStoredFraction('nslab.split.text', 0.35);
  const [paneFrac, setPaneFrac] = useStoredFraction('nslab.split.panes', 0.5);
  const [benchFrac, setBenchFrac] = useStoredFraction('nslab.split.bench', 0.6);
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
  const allDone = doneCount === data.tasks.length && data.tasks.length > 0;

  const onTextClick = useCallback(
    (e: React.MouseEvent) => {
      const btn = (e.target as HTMLElement).closest<HTMLElement>('[data-action]');
      if (!btn) return;
      const block = btn.closest('.codeblock');
      const code = block?.querySelector('code')?.textContent ?? '';
      if (btn.dataset.action === 'copy') {
        void copy(code).then((ok) => flash(btn, ok ? 'ok' : 'bad', ok ? s.copied : undefined));
        return;
      }
      if (btn.dataset.action === 'run') {
        const pane = btn.dataset.run!;
        const text = code.replace(/\r?\n/g, '\r') + '\r';
        const ok = session.input(pane, text);
        flash(btn, ok ? 'ok' : 'bad');
        lastRun.current = btn;
        const term = window.__nslab?.terms[pane];
        const narrow = window.matchMedia('(max-width: 900px)').matches;
        const behavior = window.matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth';
        if (narrow) document.querySelector(`[data-pane="${pane}"]`)?.scrollIntoView({ behavior, block: 'center' });
        else if (!window.matchMedia('(pointer: coarse)').matches) term?.focus();
      }
    },
    [session, s],
  );

  const stepOfTask = (stepId: string) => data.steps.findIndex((x) => x.id === stepId) + 1;
  const ready = state.phase === 'ready';

  return (
    <div className="lesson-layout" style={{ ['--text-frac' as string]: String(textFrac), ['--bench-frac' as string]: String(benchFrac) }}>
      <article className="lesson-text" id="lesson" onClick={onTextClick}>
        <header className="lesson-head">
          <p className="eyebrow">
            {s.lessonN(data.index)} / {data.total}
          </p>
          <h1>{data.title}</h1>
          <p className="lesson-summary">{data.summary}</p>
        </header>
        {data.introHtml ? <div className="prose" dangerouslySetInnerHTML={{ __html: data.introHtml }} /> : null}

        <section className={`tasks${allDone ? ' all-done' : ''}`} aria-labelledby="tasks-h" id="tasks">
          <div className="tasks-head">
            <h2 id="tasks-h">{s.tasksTitle}</h2>
            <span className="tasks-count" data-done={doneCount}>
              {doneCount}/{data.tasks.length}
            </span>
            <button type="button" className="btn btn-small" onClick={() => void session.check()} disabled={!ready || state.checking} data-check-now>
              {state.checking ? s.checking : s.checkNow}
            </button>
          </div>
          <ul className="task-list">
            {data.tasks.map((t) => {
              const done = status(t.id) === 'done';
              return (
                <TaskItem
                  key={t.id}
                  id={t.id}
                  title={t.title}
                  done={done}
                  s={s}
                  meta={
                    <>
                      {!done && earlier.has(t.id) ? <span className="task-earlier">{s.doneEarlier}</span> : null}
                      <a href={`#step-${t.step}`}>{s.stepN(stepOfTask(t.step))}</a>
                    </>
                  }
                />
              );
            })}
          </ul>
          {allDone ? (
            <p className="tasks-done">
              <span>{s.allDone}</span>
              {data.next ? (
                <a className="btn btn-primary btn-small" href={`/${lang}/lessons/${data.next.id}`}>
                  {s.nextLesson} →
                </a>
              ) : null}
            </p>
          ) : null}
        </section>

        {data.steps.map((step, i) => {
          const stepDone = step.tasks.length > 0 && step.tasks.every((t) => status(t) === 'done');
          return (
            <section key={step.id} className={`step${stepDone ? ' done' : ''}`} id={`step-${step.id}`} data-step={step.id}>
              <h2>
                <span className="step-num">{stepDone ? '✓' : i + 1}</span>
                <span>{step.title}</span>
              </h2>
              <div className="prose" dangerouslySetInnerHTML={{ __html: step.html }} />
              {step.tasks.length ? (
                <ul className="step-goals" aria-label={s.tasksTitle}>
                  {step.tasks.map((id) => {
                    const task = data.tasks.find((x) => x.id === id);
                    return task ? (
                      <li key={id} className={`goal ${status(id)}`}>
                        <span className="goal-mark" aria-hidden="true">
                          {status(id) === 'done' ? '✓' : '○'}
                        </span>
                        <span>
                          <b>{s.goal}</b> {task.title}
                        </span>
                      </li>
                    ) : null;
                  })}
                </ul>
              ) : null}
            </section>
          );
        })}

        <nav className="lesson-nav">
          {data.prev ? (
            <a href={`/${lang}/lessons/${data.prev.id}`} className="nav-prev">
              <small>←</small> {data.prev.title}
            </a>
          ) : (
            <a href={`/${lang}`} className="nav-prev">
              <small>←</small> {s.backToCourse}
            </a>
          )}
          {data.next ? (
            <a href={`/${lang}/lessons/${data.next.id}`} className="nav-next">
              {data.next.title} <small>→</small>
            </a>
          ) : (
            <a href={`/${lang}`} className="nav-next">
              {s.backToCourse} <small>→</small>
            </a>
          )}
        </nav>
      </article>

      <Splitter orientation="vertical" value={textFrac} onChange={setTextFrac} label={s.resizeSplit} />

      <section className="bench" id="shells" aria-label={s.shells}>
        <ConnLine state={state} lang={lang} session={session} />
        <div className="panes" style={{ ['--pane-frac' as string]: String(paneFrac) }}>
          {data.panes.map((p, i) => (
            <Fragment key={p.name}>
              {i === 1 ? <Splitter orientation="vertical" value={paneFrac} onChange={setPaneFrac} label={s.resizeSplit} /> : null}
              <TerminalPane name={p.name} title={p.title} unshare={p.unshare} lang={lang} session={session} state={state.panes[p.name]} ready={ready} />
            </Fragment>
          ))}
        </div>
        <Splitter orientation="horizontal" value={benchFrac} onChange={setBenchFrac} label={s.resizeSplit} />
        <div className="picture-wrap" id="picture">
          <NsGraph picture={state.picture} types={data.types} lang={lang} live={ready} />
        </div>
      </section>

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

'use client';
// The lesson's text column: its title, introduction, task list and steps, whose code blocks have
// Run and Copy buttons (event delegation: the steps are HTML rendered at build time), and the
// links to the lessons before and after. On a phone a Run leaves the learner in the text and
// shows what the command printed under its block (RunPreview).
import { useCallback, useRef, type RefObject } from 'react';
import type { Lang } from '@nslab/shared';
import { BUILDER_STRINGS } from '../lib/builder-strings';
import { STRINGS } from '../lib/i18n';
import type { LessonPageData } from '../lib/content';
import type { LabSession } from '../lib/session';
import { copy, flash } from '../lib/clipboard';
import { useScrollHints } from '../lib/scroll-hints';
import { TaskList } from './TaskList';
import { useRunPreviews } from './RunPreview';

const NARROW = '(max-width: 900px)';

function scrollBehavior(): ScrollBehavior {
  return window.matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth';
}

interface Props {
  lang: Lang;
  data: LessonPageData;
  session: LabSession;
  ready: boolean;
  checking: boolean;
  status: (task: string) => 'done' | 'pending';
  /** Tasks done in an earlier lab. */
  earlier: Set<string>;
  /** The block of the latest Run (the phone's "Lesson" button brings the learner back to it). */
  lastRun: RefObject<HTMLElement | null>;
}

export function LessonText({ lang, data, session, ready, checking, status, earlier, lastRun }: Props) {
  const s = STRINGS[lang];
  const root = useRef<HTMLElement>(null);
  useScrollHints(root);
  const openPane = useCallback((pane: string) => {
    document.querySelector(`[data-pane="${pane}"]`)?.scrollIntoView({ behavior: scrollBehavior(), block: 'center' });
  }, []);
  const previews = useRunPreviews(s, openPane);

  const onClick = useCallback(
    (e: React.MouseEvent) => {
      const btn = (e.target as HTMLElement).closest<HTMLElement>('[data-action]');
      if (!btn) return;
      const block = btn.closest<HTMLElement>('.codeblock');
      const code = block?.querySelector('code')?.textContent ?? '';
      if (btn.dataset.action === 'copy') {
        void copy(code).then((ok) => flash(btn, ok ? 'ok' : 'bad', ok ? s.copied : undefined));
        return;
      }
      if (btn.dataset.action === 'run' && block) {
        const pane = btn.dataset.run!;
        const narrow = window.matchMedia(NARROW).matches;
        // Mark where the command starts in the terminal before it is sent.
        if (narrow) previews.start(block, pane);
        const ok = session.input(pane, code.replace(/\r?\n/g, '\r') + '\r');
        flash(btn, ok ? 'ok' : 'bad');
        lastRun.current = block;
        if (!narrow && !window.matchMedia('(pointer: coarse)').matches) window.__nslab?.terms[pane]?.focus();
      }
    },
    [session, s, previews, lastRun],
  );

  const stepOfTask = (stepId: string) => data.steps.findIndex((x) => x.id === stepId) + 1;

  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: one delegated listener for the Run and Copy buttons inside, which are real buttons with their own keys
    <article className="lesson-text" id="lesson" onClick={onClick} ref={root}>
      <header className="lesson-head">
        <p className="eyebrow">
          {s.lessonN(data.index)} / {data.total}
        </p>
        <h1>{data.title}</h1>
        <p className="lesson-summary">{data.summary}</p>
      </header>
      {/* biome-ignore lint/security/noDangerouslySetInnerHtml: HTML rendered at build time from the lessons in this repository, raw HTML escaped */}
      {data.introHtml ? <div className="prose" dangerouslySetInnerHTML={{ __html: data.introHtml }} /> : null}

      <TaskList
        id="tasks"
        headingId="tasks-h"
        heading={s.tasksTitle}
        tasks={data.tasks}
        done={(id) => status(id) === 'done'}
        s={s}
        actions={
          <button type="button" className="btn btn-small" onClick={() => void session.check()} disabled={!ready || checking} data-check-now>
            {checking ? s.checking : s.checkNow}
          </button>
        }
        meta={(t, done) => (
          <>
            {!done && earlier.has(t.id) ? <span className="task-earlier">{s.doneEarlier}</span> : null}
            <a href={`#step-${t.step}`}>{s.stepN(stepOfTask(t.step))}</a>
          </>
        )}
        allDone={
          <p className="tasks-done">
            <span>{s.allDone}</span>
            {data.next ? (
              <a className="btn btn-primary btn-small" href={`/${lang}/lessons/${data.next.id}`}>
                {s.nextLesson} →
              </a>
            ) : null}
          </p>
        }
      />

      {data.steps.map((step, i) => {
        const stepDone = step.tasks.length > 0 && step.tasks.every((t) => status(t) === 'done');
        return (
          <section key={step.id} className={`step${stepDone ? ' done' : ''}`} id={`step-${step.id}`} data-step={step.id}>
            <h2>
              <span className="step-num">{stepDone ? '✓' : i + 1}</span>
              <span>{step.title}</span>
            </h2>
            {/* biome-ignore lint/security/noDangerouslySetInnerHtml: HTML rendered at build time from the lessons in this repository, raw HTML escaped */}
            <div className="prose" dangerouslySetInnerHTML={{ __html: step.html }} />
            {i === data.steps.length - 1 ? (
              <p className="step-builder" data-builder-link>
                {BUILDER_STRINGS[lang].courseLinkText} <a href={`/${lang}/builder`}>{BUILDER_STRINGS[lang].courseLink} →</a>
              </p>
            ) : null}
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
      {previews.portals}
    </article>
  );
}

// A lesson: its text in steps, its tasks, its panes side by side, the live namespace picture.
// Rendered when asked for, from the agent's lessons (lib/content.ts): lessons from outside the
// checkout are served as they are, and with the agent watching them a changed file shows at once
// (LiveReload), its mistakes instead of the lesson (docs/decisions/0004-live-lessons.md).
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { STRINGS, isLang } from '../../../../lib/i18n';
import { lessonsLive, pageOrProblems } from '../../../../lib/content';
import { TopBar } from '../../../../components/TopBar';
import { LiveLesson } from '../../../../components/LiveLesson';
import { LiveReload } from '../../../../components/LiveReload';
import { LessonError } from '../../../../components/LessonError';
import { WorkshopBar } from '../../../../components/WorkshopBar';
import '@xterm/xterm/css/xterm.css';

export const dynamic = 'force-dynamic';

export async function generateMetadata({ params }: { params: Promise<{ lang: string; id: string }> }): Promise<Metadata> {
  const { lang, id } = await params;
  if (!isLang(lang)) return {};
  const { data } = pageOrProblems(id, lang);
  return data ? { title: `${data.title} · nslab`, description: data.summary } : {};
}

export default async function LessonPage({ params }: { params: Promise<{ lang: string; id: string }> }) {
  const { lang, id } = await params;
  if (!isLang(lang)) notFound();
  const { data, problems } = pageOrProblems(id, lang);
  if (!data && !problems.length) notFound();
  const s = STRINGS[lang];
  const live = lessonsLive();
  return (
    <div className="lesson-page">
      <TopBar lang={lang} path={`/lessons/${id}`}>
        <nav className="crumbs" aria-label={s.course}>
          <a href={`/${lang}`}>{s.backToCourse}</a>
          <span aria-hidden="true">/</span>
          <span className="crumb-current">{data ? `${data.index}. ${data.title}` : id}</span>
        </nav>
      </TopBar>
      <WorkshopBar lang={lang} />
      {live ? <LiveReload /> : null}
      {data ? <LiveLesson lang={lang} data={data} /> : <LessonError lang={lang} problems={problems} />}
    </div>
  );
}

// A lesson's embed view, for a training portal's frame (docs/embedding.md): the lesson's text,
// tasks, panes and namespace picture without the site around them, fitted to the frame. The
// agent lets only the portal's origins frame it (Content-Security-Policy: frame-ancestors).
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { isLang } from '../../../../lib/i18n';
import { lessonsLive, pageOrProblems } from '../../../../lib/content';
import { LiveReload } from '../../../../components/LiveReload';
import { LessonError } from '../../../../components/LessonError';
import { EmbedLesson } from '../../../../components/EmbedLesson';
import '@xterm/xterm/css/xterm.css';
import './embed.css';

// Rendered when asked for, from the agent's lessons (as the lesson page; docs/decisions/0004-live-lessons.md).
export const dynamic = 'force-dynamic';

export async function generateMetadata({ params }: { params: Promise<{ lang: string; lesson: string }> }): Promise<Metadata> {
  const { lang, lesson } = await params;
  if (!isLang(lang)) return {};
  const { data } = pageOrProblems(lesson, lang);
  return data ? { title: `${data.title} · nslab`, description: data.summary, robots: { index: false, follow: false } } : {};
}

export default async function EmbedPage({ params }: { params: Promise<{ lang: string; lesson: string }> }) {
  const { lang, lesson } = await params;
  if (!isLang(lang)) notFound();
  const { data, problems } = pageOrProblems(lesson, lang);
  if (!data && !problems.length) notFound();
  return (
    <>
      {lessonsLive() ? <LiveReload embed /> : null}
      {data ? <EmbedLesson lang={lang} data={data} /> : <LessonError lang={lang} problems={problems} />}
    </>
  );
}

// A lesson's embed view, for a training portal's frame (docs/embedding.md): the lesson's text,
// tasks, panes and namespace picture without the site around them, fitted to the frame. The
// agent lets only the portal's origins frame it (Content-Security-Policy: frame-ancestors).
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { LANG_LIST, isLang } from '../../../../lib/i18n';
import { lessonPage, lessons } from '../../../../lib/content';
import { EmbedLesson } from '../../../../components/EmbedLesson';
import '@xterm/xterm/css/xterm.css';
import './embed.css';

export const dynamicParams = false;

export function generateStaticParams() {
  return LANG_LIST.flatMap((lang) => lessons().map((l) => ({ lang, lesson: l.id })));
}

export async function generateMetadata({ params }: { params: Promise<{ lang: string; lesson: string }> }): Promise<Metadata> {
  const { lang, lesson } = await params;
  if (!isLang(lang)) return {};
  const data = lessonPage(lesson, lang);
  return data ? { title: `${data.title} · nslab`, description: data.summary, robots: { index: false, follow: false } } : {};
}

export default async function EmbedPage({ params }: { params: Promise<{ lang: string; lesson: string }> }) {
  const { lang, lesson } = await params;
  if (!isLang(lang)) notFound();
  const data = lessonPage(lesson, lang);
  if (!data) notFound();
  return <EmbedLesson lang={lang} data={data} />;
}

// A lesson: its text in steps, its tasks, its panes side by side, the live namespace picture.
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { STRINGS, LANG_LIST, isLang } from '../../../../lib/i18n';
import { lessonPage, lessons } from '../../../../lib/content';
import { TopBar } from '../../../../components/TopBar';
import { LessonWorkspace } from '../../../../components/LessonWorkspace';
import { WorkshopBar } from '../../../../components/WorkshopBar';
import '@xterm/xterm/css/xterm.css';

export const dynamicParams = false;

export function generateStaticParams() {
  return LANG_LIST.flatMap((lang) => lessons().map((l) => ({ lang, id: l.id })));
}

export async function generateMetadata({ params }: { params: Promise<{ lang: string; id: string }> }): Promise<Metadata> {
  const { lang, id } = await params;
  if (!isLang(lang)) return {};
  const data = lessonPage(id, lang);
  return data ? { title: `${data.title} · nslab`, description: data.summary } : {};
}

export default async function LessonPage({ params }: { params: Promise<{ lang: string; id: string }> }) {
  const { lang, id } = await params;
  if (!isLang(lang)) notFound();
  const data = lessonPage(id, lang);
  if (!data) notFound();
  const s = STRINGS[lang];
  return (
    <div className="lesson-page">
      <TopBar lang={lang} path={`/lessons/${id}`}>
        <nav className="crumbs" aria-label={s.course}>
          <a href={`/${lang}`}>{s.backToCourse}</a>
          <span aria-hidden="true">/</span>
          <span className="crumb-current">
            {data.index}. {data.title}
          </span>
        </nav>
      </TopBar>
      <WorkshopBar lang={lang} />
      <LessonWorkspace lang={lang} data={data} />
    </div>
  );
}

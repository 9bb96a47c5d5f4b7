// A new workshop, for the agent's operator: /<lang>/instructor.
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { STRINGS, LANG_LIST, isLang } from '../../../lib/i18n';
import { lessonPage, lessons } from '../../../lib/content';
import { WORKSHOP_STRINGS } from '../../../lib/workshop-strings';
import { TopBar } from '../../../components/TopBar';
import { NewWorkshop } from '../../../components/NewWorkshop';

export const dynamicParams = false;
// Rendered when asked for: the lessons are the agent's (docs/decisions/0004-live-lessons.md).
export const dynamic = 'force-dynamic';

export function generateStaticParams() {
  return LANG_LIST.map((lang) => ({ lang }));
}

export async function generateMetadata({ params }: { params: Promise<{ lang: string }> }): Promise<Metadata> {
  const { lang } = await params;
  if (!isLang(lang)) return {};
  return { title: `${WORKSHOP_STRINGS[lang].newTitlePage} · nslab`, robots: { index: false, follow: false } };
}

export default async function NewWorkshopPage({ params }: { params: Promise<{ lang: string }> }) {
  const { lang } = await params;
  if (!isLang(lang)) notFound();
  const s = STRINGS[lang];
  const w = WORKSHOP_STRINGS[lang];
  const list = lessons().map((l) => ({ id: l.id, title: lessonPage(l.id, lang)?.title ?? l.id }));
  return (
    <div className="join-page">
      <TopBar lang={lang} path="/instructor">
        <nav className="crumbs" aria-label={s.course}>
          <a href={`/${lang}`}>{s.backToCourse}</a>
          <span aria-hidden="true">/</span>
          <span className="crumb-current">{w.newTitlePage}</span>
        </nav>
      </TopBar>
      <main className="join-main">
        <h1>{w.newTitlePage}</h1>
        <p>{w.newLede}</p>
        <NewWorkshop lang={lang} lessons={list} />
      </main>
    </div>
  );
}

// Joining a workshop: /<lang>/join (the link the instructor shows carries ?code=).
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { STRINGS, LANG_LIST, isLang } from '../../../lib/i18n';
import { WORKSHOP_STRINGS } from '../../../lib/workshop-strings';
import { TopBar } from '../../../components/TopBar';
import { JoinForm } from '../../../components/JoinForm';

export const dynamicParams = false;

export function generateStaticParams() {
  return LANG_LIST.map((lang) => ({ lang }));
}

export async function generateMetadata({ params }: { params: Promise<{ lang: string }> }): Promise<Metadata> {
  const { lang } = await params;
  if (!isLang(lang)) return {};
  return { title: `${WORKSHOP_STRINGS[lang].joinTitle} · nslab`, robots: { index: false, follow: false } };
}

export default async function JoinPage({ params }: { params: Promise<{ lang: string }> }) {
  const { lang } = await params;
  if (!isLang(lang)) notFound();
  const s = STRINGS[lang];
  const w = WORKSHOP_STRINGS[lang];
  return (
    <div className="join-page">
      <TopBar lang={lang} path="/join">
        <nav className="crumbs" aria-label={s.course}>
          <a href={`/${lang}`}>{s.backToCourse}</a>
          <span aria-hidden="true">/</span>
          <span className="crumb-current">{w.joinTitle}</span>
        </nav>
      </TopBar>
      <main className="join-main">
        <h1>{w.joinTitle}</h1>
        <p>{w.joinLede}</p>
        <JoinForm lang={lang} />
      </main>
    </div>
  );
}

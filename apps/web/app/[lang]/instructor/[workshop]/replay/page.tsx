// A recording of a learner's pane, replayed: /<lang>/instructor/<workshop>/replay#src=<signed link>.
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { STRINGS, isLang } from '../../../../../lib/i18n';
import { WORKSHOP_STRINGS } from '../../../../../lib/workshop-strings';
import { TopBar } from '../../../../../components/TopBar';
import { CastReplay } from '../../../../../components/CastReplay';

export async function generateMetadata({ params }: { params: Promise<{ lang: string }> }): Promise<Metadata> {
  const { lang } = await params;
  if (!isLang(lang)) return {};
  return { title: `${WORKSHOP_STRINGS[lang].replayTitle} · nslab`, robots: { index: false, follow: false }, referrer: 'no-referrer' };
}

export default async function ReplayPage({ params }: { params: Promise<{ lang: string; workshop: string }> }) {
  const { lang, workshop } = await params;
  if (!isLang(lang) || !/^[a-z0-9]{6,32}$/.test(workshop)) notFound();
  const s = STRINGS[lang];
  return (
    <div className="dash-page">
      <TopBar lang={lang} path={`/instructor/${workshop}/replay`}>
        <nav className="crumbs" aria-label={s.course}>
          <a href={`/${lang}`}>{s.backToCourse}</a>
          <span aria-hidden="true">/</span>
          <span className="crumb-current">{WORKSHOP_STRINGS[lang].replayTitle}</span>
        </nav>
      </TopBar>
      <CastReplay lang={lang} />
    </div>
  );
}

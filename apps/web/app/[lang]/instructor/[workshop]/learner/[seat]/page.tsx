// One learner's panes, for their workshop's instructor: live, read-only until a take-over.
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { STRINGS, isLang } from '../../../../../../lib/i18n';
import { watchLessons } from '../../../../../../lib/content';
import { WORKSHOP_STRINGS } from '../../../../../../lib/workshop-strings';
import { TopBar } from '../../../../../../components/TopBar';
import { LearnerWatch } from '../../../../../../components/LearnerWatch';
import '@xterm/xterm/css/xterm.css';

// Rendered when asked for, from the agent's lessons (docs/decisions/0004-live-lessons.md).
export const dynamic = 'force-dynamic';

export async function generateMetadata({ params }: { params: Promise<{ lang: string }> }): Promise<Metadata> {
  const { lang } = await params;
  if (!isLang(lang)) return {};
  return { title: `${WORKSHOP_STRINGS[lang].watch} · nslab`, robots: { index: false, follow: false }, referrer: 'no-referrer' };
}

export default async function LearnerPage({ params }: { params: Promise<{ lang: string; workshop: string; seat: string }> }) {
  const { lang, workshop, seat } = await params;
  if (!isLang(lang) || !/^[a-z0-9]{6,32}$/.test(workshop) || !/^[a-z0-9]{6,32}$/.test(seat)) notFound();
  const s = STRINGS[lang];
  const all = watchLessons(lang);
  return (
    <div className="lesson-page watch-page">
      <TopBar lang={lang} path={`/instructor/${workshop}/learner/${seat}`}>
        <nav className="crumbs" aria-label={s.course}>
          <a href={`/${lang}`}>{s.backToCourse}</a>
          <span aria-hidden="true">/</span>
          <span className="crumb-current">{WORKSHOP_STRINGS[lang].watch}</span>
        </nav>
      </TopBar>
      <LearnerWatch lang={lang} workshop={workshop} seat={seat} lessons={all} />
    </div>
  );
}

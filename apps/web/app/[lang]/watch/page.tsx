// The read-only viewer's page: /<lang>/watch#<token>. The token stays in the fragment, so it never
// reaches a server log; the page reads it in the browser and asks the agent for that lab.
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { STRINGS, isLang } from '../../../lib/i18n';
import { watchLessons } from '../../../lib/content';
import { TopBar } from '../../../components/TopBar';
import { WatchWorkspace } from '../../../components/WatchWorkspace';
import '@xterm/xterm/css/xterm.css';

// Rendered when asked for, from the agent's lessons (docs/decisions/0004-live-lessons.md).
export const dynamic = 'force-dynamic';

export async function generateMetadata({ params }: { params: Promise<{ lang: string }> }): Promise<Metadata> {
  const { lang } = await params;
  if (!isLang(lang)) return {};
  // A shared link is nobody's business but its holder's.
  return { title: `${STRINGS[lang].watchTitle} · nslab`, robots: { index: false, follow: false }, referrer: 'no-referrer' };
}

export default async function WatchPage({ params }: { params: Promise<{ lang: string }> }) {
  const { lang } = await params;
  if (!isLang(lang)) notFound();
  const s = STRINGS[lang];
  // Which lesson the lab is of is known only once the agent answers: every lesson's panes and
  // tasks come with the page (they are small).
  const all = watchLessons(lang);
  return (
    <div className="lesson-page watch-page">
      <TopBar lang={lang} path="/watch">
        <nav className="crumbs" aria-label={s.course}>
          <a href={`/${lang}`}>{s.backToCourse}</a>
          <span aria-hidden="true">/</span>
          <span className="crumb-current">{s.watchTitle}</span>
        </nav>
      </TopBar>
      <WatchWorkspace lang={lang} lessons={all} />
    </div>
  );
}

// The namespace builder: /<lang>/builder. A lab with a host pane, a panel to make panes of any
// combination of namespace types (nested, too), and beside each pane the code that makes it.
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { STRINGS, isLang } from '../../../lib/i18n';
import { BUILDER_STRINGS } from '../../../lib/builder-strings';
import { TopBar } from '../../../components/TopBar';
import { BuilderWorkspace } from '../../../components/BuilderWorkspace';
import '@xterm/xterm/css/xterm.css';

export async function generateMetadata({ params }: { params: Promise<{ lang: string }> }): Promise<Metadata> {
  const { lang } = await params;
  if (!isLang(lang)) return {};
  return { title: `${BUILDER_STRINGS[lang].title} · nslab`, description: BUILDER_STRINGS[lang].lede };
}

export default async function BuilderPage({ params }: { params: Promise<{ lang: string }> }) {
  const { lang } = await params;
  if (!isLang(lang)) notFound();
  const s = STRINGS[lang];
  const b = BUILDER_STRINGS[lang];
  return (
    <div className="lesson-page builder-page">
      <TopBar lang={lang} path="/builder">
        <nav className="crumbs" aria-label={s.course}>
          <a href={`/${lang}`}>{s.backToCourse}</a>
          <span aria-hidden="true">/</span>
          <span className="crumb-current">{b.title}</span>
        </nav>
      </TopBar>
      <BuilderWorkspace lang={lang} />
    </div>
  );
}

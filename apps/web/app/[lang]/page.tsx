// The course: what a namespace is, the eight types, the three system calls, and the lessons.
import { notFound } from 'next/navigation';
import { NAMESPACES, type NamespaceType } from '@nslab/shared';
import { STRINGS, isLang } from '../../lib/i18n';
import { BUILDER_STRINGS } from '../../lib/builder-strings';
import { lessonCards, lessonForType, lessonsLive } from '../../lib/content';
import { LiveReload } from '../../components/LiveReload';
import { TopBar } from '../../components/TopBar';
import { PidFigure } from '../../components/PidFigure';
import { LessonProgress } from '../../components/LessonProgress';

// Rendered when asked for, from the agent's lessons (docs/decisions/0004-live-lessons.md).
export const dynamic = 'force-dynamic';

/** A glimpse of a lesson: the same command in two shells, two different answers. */
function HeroShells() {
  return (
    <div className="hero-shells" aria-hidden="true">
      <div className="mini-term mini-host">
        <div className="mini-head">host</div>
        <pre>
          <span className="p">root@nslab:~# </span>hostname{'\n'}nslab{'\n'}
          <span className="p">root@nslab:~# </span>readlink /proc/$$/ns/uts{'\n'}
          <span className="hl-host">uts:[4026531838]</span>
        </pre>
      </div>
      <div className="mini-term mini-container">
        <div className="mini-head">container</div>
        <pre>
          <span className="p">root@nslab:~# </span>hostname bird{'\n'}
          <span className="p">root@nslab:~# </span>hostname{'\n'}bird{'\n'}
          <span className="p">root@nslab:~# </span>readlink /proc/$$/ns/uts{'\n'}
          <span className="hl-container">uts:[4026532181]</span>
        </pre>
      </div>
    </div>
  );
}

/** The table's order: as the kernel gained them. */
const TABLE_ORDER: NamespaceType[] = ['mnt', 'uts', 'ipc', 'pid', 'net', 'user', 'cgroup', 'time'];

export default async function CoursePage({ params }: { params: Promise<{ lang: string }> }) {
  const { lang } = await params;
  if (!isLang(lang)) notFound();
  const s = STRINGS[lang];
  const cards = lessonCards(lang);
  const first = cards[0];
  return (
    <>
      <TopBar lang={lang} path="" />
      {lessonsLive() ? <LiveReload /> : null}
      <main className="course">
        <section className="hero">
          <div className="hero-text">
            <p className="eyebrow">{s.heroEyebrow}</p>
            <h1>{s.heroTitle}</h1>
            <p className="lede">{s.heroLede}</p>
            {first ? (
              <a className="btn btn-primary" href={`/${lang}/lessons/${first.id}`}>
                {s.startCourse} <span aria-hidden="true">→</span>
              </a>
            ) : null}
          </div>
          <HeroShells />
        </section>

        <section className="concept" aria-labelledby="concept-h">
          <div className="concept-text">
            <h2 id="concept-h">{s.conceptTitle}</h2>
            <p>{s.conceptP1}</p>
            <p>{s.conceptP2}</p>
            <p>{s.conceptP3}</p>
          </div>
          <PidFigure lang={lang} />
        </section>

        <section aria-labelledby="types-h" className="types">
          <h2 id="types-h">{s.typesTitle}</h2>
          <p className="section-intro">{s.typesIntro}</p>
          <div className="table-wrap">
            <table className="ns-table">
              <thead>
                <tr>
                  <th scope="col">{s.thType}</th>
                  <th scope="col">{s.thFlag}</th>
                  <th scope="col">{s.thSince}</th>
                  <th scope="col">{s.thIsolates}</th>
                  <th scope="col">{s.thLesson}</th>
                </tr>
              </thead>
              <tbody>
                {TABLE_ORDER.map((type) => {
                  const ns = NAMESPACES[type];
                  const l = lessonForType(type);
                  return (
                    <tr key={type} data-ns-row={type}>
                      <th scope="row">{s.typeName[type]}</th>
                      <td>
                        <code>{ns.flag}</code>
                      </td>
                      <td className="num">{ns.since}</td>
                      <td>{s.isolates[type]}</td>
                      <td>{l ? <a href={`/${lang}/lessons/${l.id}`}>{s.lessonN(cards.findIndex((c) => c.id === l.id) + 1)}</a> : null}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </section>

        <section aria-labelledby="calls-h" className="calls">
          <h2 id="calls-h">{s.callsTitle}</h2>
          <p className="section-intro">{s.callsIntro}</p>
          <div className="calls-grid">
            {s.calls.map((c) => (
              <div key={c.name} className="call">
                <h3>
                  <code>{c.name}</code>
                </h3>
                <p>{c.text}</p>
                <p className="call-cmd">
                  {s.callsTool} <code>{c.cmd}</code>
                </p>
              </div>
            ))}
          </div>
        </section>

        <section aria-labelledby="lessons-h">
          <h2 id="lessons-h">{s.lessonsTitle}</h2>
          <p className="section-intro">{s.lessonsIntro}</p>
          <ol className="lessons">
            {cards.map((c) => (
              <li key={c.id} className="card" data-lesson={c.id}>
                <a className="card-link" href={`/${lang}/lessons/${c.id}`}>
                  <span className="card-index">{String(c.index).padStart(2, '0')}</span>
                  <h3 className="card-title">{c.title}</h3>
                  <p className="card-summary">{c.summary}</p>
                  <span className="card-flags">
                    {c.flags.map((f) => (
                      <span key={f.type} className="flag-chip" title={`Linux ${f.since}`}>
                        <code>{f.flag}</code>
                        <small>{f.since}</small>
                      </span>
                    ))}
                  </span>
                  <LessonProgress lesson={c.id} taskIds={c.taskIds} lang={lang} />
                </a>
              </li>
            ))}
          </ol>
        </section>

        <section className="course-builder card" aria-labelledby="builder-h" data-builder-link>
          <h2 id="builder-h">{BUILDER_STRINGS[lang].title}</h2>
          <p className="section-intro">{BUILDER_STRINGS[lang].courseLinkText}</p>
          <a className="btn btn-primary" href={`/${lang}/builder`}>
            {BUILDER_STRINGS[lang].courseLink} <span aria-hidden="true">→</span>
          </a>
        </section>

        <footer className="footer">
          <p>{s.footer}</p>
        </footer>
      </main>
    </>
  );
}

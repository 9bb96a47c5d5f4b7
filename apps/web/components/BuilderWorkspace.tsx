'use client';
// The namespace builder: a lab of its own with the host pane; the panel makes new panes of any
// combination of namespaces, in the lab or nested inside another pane's; each pane shows the code
// that makes it, and the picture shows where every pane sits. One LabSession (lib/session.ts)
// whose panes come and go.
import { useEffect, useState, useSyncExternalStore } from 'react';
import { BUILDER_LESSON, MAX_BUILDER_PANES, paneChoice, type BuilderChoice, type Lang, type PaneInfo } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import { BUILDER_STRINGS } from '../lib/builder-strings';
import { LabSession } from '../lib/session';
import { useSessionHandle } from './useSessionHandle';
import { ConnLine } from './ConnLine';
import { TerminalPane } from './TerminalPane';
import { NsGraph } from './NsGraph';
import { BuilderForm } from './BuilderForm';
import { BuilderCode } from './BuilderCode';

/** The host pane: the lab's own namespaces, nothing made anew (inside it is the same as in the lab). */
const NO_CHOICE: BuilderChoice = paneChoice({ unshare: [] });

export function BuilderWorkspace({ lang }: { lang: Lang }) {
  const s = STRINGS[lang];
  const b = BUILDER_STRINGS[lang];
  const [session] = useState(() => new LabSession(BUILDER_LESSON.id, ['host'], { newLabNotice: s.newLabNotice }, { dynamicPanes: true }));
  const state = useSyncExternalStore(session.subscribe, session.getState, session.getState);
  useEffect(() => {
    session.start();
    return () => session.stop();
  }, [session]);
  useSessionHandle(session, state.labId);

  const ready = state.phase === 'ready';
  const built = state.paneInfos.filter((p) => p.built);
  const parentOf = (p: PaneInfo) => {
    if (!p.built?.parent) return undefined;
    const parent = built.find((q) => q.name === p.built!.parent);
    return parent ? paneChoice(parent) : p.built.parent === 'host' ? NO_CHOICE : null;
  };
  const labPid = (name: string) => state.picture?.panes.find((p) => p.name === name)?.pid ?? null;
  const hint = (p: PaneInfo) => {
    const what = p.unshare.length ? s.paneOwnNs(p.unshare.join(' · ')) : b.nothingNew;
    return p.built?.parent ? `${what}, ${b.inside(p.built.parent)}` : what;
  };

  return (
    <div className="builder">
      <div className="builder-side">
        <p className="lede">{b.lede}</p>
        <BuilderForm
          lang={lang}
          ready={ready}
          parents={{ host: NO_CHOICE, ...Object.fromEntries(built.map((p) => [p.name, paneChoice(p)])) }}
          full={built.length >= MAX_BUILDER_PANES ? b.limit(MAX_BUILDER_PANES) : null}
          create={(choice, parent) => session.addPane(choice, parent)}
        />
      </div>
      <section className="builder-bench" id="shells" aria-label={s.shells}>
        <ConnLine state={state} lang={lang} session={session} />
        <div className="builder-panes">
          <TerminalPane name="host" title={null} unshare={[]} lang={lang} session={session} state={state.panes.host} ready={ready} hint={b.hostPane} />
          {built.map((p) => (
            <TerminalPane
              key={p.name}
              name={p.name}
              title={null}
              unshare={p.unshare}
              lang={lang}
              session={session}
              state={state.panes[p.name]}
              ready={ready}
              hint={hint(p)}
              onClose={{ run: () => void session.closePane(p.name).catch(() => {}), label: b.close, title: b.closeTitle(p.name) }}
              aside={<BuilderCode lang={lang} choice={paneChoice(p)} parent={parentOf(p)} parentPid={p.built?.parent ? labPid(p.built.parent) : null} />}
            />
          ))}
        </div>
        <div className="picture-wrap" id="picture" data-open="true">
          <NsGraph picture={state.picture} types={[]} lang={lang} live={ready} />
        </div>
      </section>
    </div>
  );
}

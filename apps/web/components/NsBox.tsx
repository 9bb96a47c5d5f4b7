// One namespace of the picture: its full `type:[inode]` name (the text `readlink /proc/PID/ns/*`
// prints, never cut), what it holds (NsFacts), and the panes and processes in it.
import type { Lang, Picture } from '@nslab/shared';
import { NAMESPACES } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import { isLabInit, type NsBox as Box, type Proc } from '../lib/picture';
import { NsFacts } from './NsFacts';

export const paneClass = (pane: string | null) => (pane === 'host' ? 'p-host' : pane === 'container' ? 'p-container' : pane ? 'p-other' : 'p-none');

function ProcList({ procs, lang, max = 6 }: { procs: Proc[]; lang: Lang; max?: number }) {
  const s = STRINGS[lang];
  const shown = procs.slice(0, max);
  return (
    <span className="proc-list">
      {shown.map((p) => (
        <span
          key={p.pid}
          className={`proc${isLabInit(p) ? ' is-init' : ''}`}
          title={isLabInit(p) ? s.initTip : `pid ${p.pid}${p.nspid.length > 1 ? ` (NSpid ${p.nspid.join(' ')})` : ''}`}
          data-init={isLabInit(p) ? 'true' : undefined}
        >
          {p.comm}
          <small>{p.pid}</small>
        </span>
      ))}
      {procs.length > max ? <span className="proc more">{s.more(procs.length - max)}</span> : null}
    </span>
  );
}

export function NsBox({ box, picture, lang, compact, full }: { box: Box; picture: Picture; lang: Lang; compact: boolean; full: boolean }) {
  const s = STRINGS[lang];
  const groups = new Map<string | null, Proc[]>();
  for (const p of box.procs) {
    const g = groups.get(p.pane) ?? [];
    g.push(p);
    groups.set(p.pane, g);
  }
  const order = [...groups.keys()].sort((a, b) => (a === null ? 1 : b === null ? -1 : 0));
  // Whose namespace it is, for its colour: the pane whose shell is in it, else whose processes are.
  const owners = box.shells.length ? box.shells : box.panes;
  const own = owners.length === 1 ? paneClass(owners[0]!).replace('p-', 'own-') : owners.length ? 'own-other' : 'own-none';
  const name = `${NAMESPACES[box.type].procName}:[${box.inode}]`;
  return (
    <div
      className={`nsbox ${own}${box.isLab ? ' is-lab' : ' is-new'}${box.shells.length ? '' : ' no-shell'}`}
      data-ns-type={box.type}
      data-inode={box.inode}
      data-shells={box.shells.join(' ')}
    >
      <div className="nsbox-head">
        <code className="nsbox-inode" data-ns-name>
          {name}
        </code>
        {box.isLab && !compact ? <span className="tag">{s.nsLab}</span> : null}
        <span className="shell-dots">
          {box.shells.map((sh) => (
            <span key={sh} className={`shell-dot ${paneClass(sh)}`} title={sh} />
          ))}
        </span>
      </div>
      <NsFacts type={box.type} inode={box.inode} picture={picture} full={full} s={s} />
      {compact ? null : (
        <div className="nsbox-body">
          {order.map((pane) => (
            <div key={pane ?? '-'} className={`nsbox-group ${paneClass(pane)}`}>
              <span className="group-name" title={pane ? undefined : s.initTip}>
                {pane ?? s.nsInit}
              </span>
              <ProcList procs={groups.get(pane)!} lang={lang} />
            </div>
          ))}
          {box.procs.length === 0 ? <div className="nsbox-group p-none">—</div> : null}
        </div>
      )}
    </div>
  );
}

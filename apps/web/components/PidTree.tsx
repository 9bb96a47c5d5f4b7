// The PID of every process at each level of the PID namespace tree, as the kernel's NSpid reports
// it: the lab's PID namespace sees every process; a child sees its own, numbered from 1.
import type { Lang } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import { isLabInit, type PidNode, type Proc } from '../lib/picture';
import { paneClass } from './NsBox';

function inSubtree(node: PidNode, p: Proc): boolean {
  if (node.procs.includes(p)) return true;
  return node.children.some((c) => inSubtree(c, p));
}

/** Every process whose PID chain passes through this namespace (the parent sees its children). */
function visibleAt(node: PidNode, all: Proc[]): Proc[] {
  return all.filter((p) => p.nspid.length > node.depth && inSubtree(node, p));
}

function PidBox({ node, all, lang }: { node: PidNode; all: Proc[]; lang: Lang }) {
  const s = STRINGS[lang];
  const procs = visibleAt(node, all).sort((a, b) => (a.nspid[node.depth] ?? 0) - (b.nspid[node.depth] ?? 0));
  const max = node.depth === 0 ? 10 : 8;
  const panes = [...new Set(node.procs.map((p) => p.pane))];
  const own = node.depth === 0 ? '' : panes.length === 1 && panes[0] ? ` ${paneClass(panes[0]).replace('p-', 'own-')}` : ' own-other';
  return (
    <div className={`pidns depth-${Math.min(node.depth, 3)}${own}`} data-pid-ns={node.inode} data-depth={node.depth}>
      <div className="pidns-head">
        <span>{node.depth === 0 ? s.pidLabNs : s.pidChildNs}</span>
        <code>pid:[{node.inode}]</code>
      </div>
      <ul className="pid-list">
        {procs.slice(0, max).map((p) => {
          const here = p.nspid[node.depth];
          const own = p.nspid[p.nspid.length - 1];
          const deeper = p.nspid.length - 1 > node.depth;
          return (
            <li
              key={p.pid}
              className={`${paneClass(p.pane)}${deeper ? ' deeper' : ''}${isLabInit(p) ? ' is-init' : ''}`}
              data-pid={p.pid}
              data-nspid={p.nspid.join(' ')}
              title={isLabInit(p) ? s.initTip : undefined}
            >
              <b className="pid-num">{here}</b>
              <span className="pid-comm">{p.comm}</span>
              {deeper ? (
                <span className="pid-map" title={p.nspid.join(' → ')}>
                  → {own}
                </span>
              ) : node.depth > 0 ? (
                <span className="pid-map up">{s.pidInLab(p.nspid[0] ?? p.pid)}</span>
              ) : null}
            </li>
          );
        })}
        {procs.length > max ? <li className="p-none more">{s.more(procs.length - max)}</li> : null}
      </ul>
      {node.children.length ? (
        <div className="pidns-children">
          {node.children.map((c) => (
            <PidBox key={c.inode} node={c} all={all} lang={lang} />
          ))}
        </div>
      ) : null}
    </div>
  );
}

export function PidTree({ tree, all, lang }: { tree: PidNode; all: Proc[]; lang: Lang }) {
  const s = STRINGS[lang];
  return (
    <div className="pid-tree" data-pid-tree>
      <h3>{s.pidTitle}</h3>
      <p className="pid-caption">{s.pidCaption}</p>
      <PidBox node={tree} all={all} lang={lang} />
    </div>
  );
}

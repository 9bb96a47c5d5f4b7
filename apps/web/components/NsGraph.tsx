'use client';
// The live namespace picture of the lab: for each namespace type, the distinct namespaces
// (by inode) as boxes with the panes and processes in each, so the learner sees which
// namespaces the two shells share and which differ; and the PID of every process at each
// level of the PID namespace tree, as the kernel's NSpid reports it.
import type { Lang, NamespaceType, Picture } from '@nslab/shared';
import { NAMESPACES } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import { nsRows, pidTree, type NsBox, type PidNode, type Proc } from '../lib/picture';

const paneClass = (pane: string | null) => (pane === 'host' ? 'p-host' : pane === 'container' ? 'p-container' : pane ? 'p-other' : 'p-none');

function ProcList({ procs, lang, max = 6 }: { procs: Proc[]; lang: Lang; max?: number }) {
  const s = STRINGS[lang];
  const shown = procs.slice(0, max);
  return (
    <span className="proc-list">
      {shown.map((p) => (
        <span key={p.pid} className="proc" title={`pid ${p.pid}${p.nspid.length > 1 ? ` (NSpid ${p.nspid.join(' ')})` : ''}`}>
          {p.comm}
          <small>{p.pid}</small>
        </span>
      ))}
      {procs.length > max ? <span className="proc more">{s.more(procs.length - max)}</span> : null}
    </span>
  );
}

function Box({ box, lang, compact }: { box: NsBox; lang: Lang; compact: boolean }) {
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
  return (
    <div
      className={`nsbox ${own}${box.isLab ? ' is-lab' : ' is-new'}${box.shells.length ? '' : ' no-shell'}`}
      data-ns-type={box.type}
      data-inode={box.inode}
      data-shells={box.shells.join(' ')}
    >
      <div className="nsbox-head">
        <code className="nsbox-inode">
          {NAMESPACES[box.type].procName}:[{box.inode}]
        </code>
        {box.isLab ? <span className="tag">{s.nsLab}</span> : null}
        <span className="shell-dots">
          {box.shells.map((sh) => (
            <span key={sh} className={`shell-dot ${paneClass(sh)}`} title={sh} />
          ))}
        </span>
      </div>
      {compact ? null : (
        <div className="nsbox-body">
          {order.map((pane) => (
            <div key={pane ?? '-'} className={`nsbox-group ${paneClass(pane)}`}>
              <span className="group-name">{pane ?? s.nsInit}</span>
              <ProcList procs={groups.get(pane)!} lang={lang} />
            </div>
          ))}
          {box.procs.length === 0 ? <div className="nsbox-group p-none">—</div> : null}
        </div>
      )}
    </div>
  );
}

function visibleAt(node: PidNode, all: Proc[]): Proc[] {
  // Every process whose PID chain passes through this namespace (the parent sees its children).
  return all.filter((p) => p.nspid.length > node.depth && inSubtree(node, p));
}

function inSubtree(node: PidNode, p: Proc): boolean {
  if (node.procs.includes(p)) return true;
  return node.children.some((c) => inSubtree(c, p));
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
            <li key={p.pid} className={`${paneClass(p.pane)}${deeper ? ' deeper' : ''}`} data-pid={p.pid} data-nspid={p.nspid.join(' ')}>
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

export function NsGraph({ picture, types, lang, live }: { picture: Picture | null; types: NamespaceType[]; lang: Lang; live: boolean }) {
  const s = STRINGS[lang];
  const rows = picture ? nsRows(picture, types) : [];
  const tree = picture ? pidTree(picture) : null;
  return (
    <section className={`nsgraph${picture && !live ? ' stale' : ''}`} data-testid="ns-graph" data-ready={picture ? 'true' : 'false'} aria-labelledby="nsgraph-h">
      <div className="nsgraph-head">
        <h2 id="nsgraph-h">{s.nsTitle}</h2>
        {picture && live ? (
          <span className="live">
            <span className="live-dot" aria-hidden="true" />
            {s.nsLive}
          </span>
        ) : null}
        <span className="legend">
          <span className="shell-dot p-host" /> host
          <span className="shell-dot p-container" /> container
        </span>
      </div>
      {!picture ? (
        <p className="nsgraph-wait">{s.nsWaiting}</p>
      ) : (
        <div className="nsgraph-grid">
          <div className="ns-rows">
            {rows.map((row) => {
              const compact = !row.highlighted && row.shared && row.boxes.length === 1;
              return (
                <div
                  key={row.type}
                  className={`ns-row${row.highlighted ? ' hl' : ''}${compact ? ' compact' : ''}`}
                  data-ns-row={row.type}
                  data-shared={row.shared ? 'true' : 'false'}
                >
                  <div className="ns-row-head">
                    <span className="ns-type">{s.typeName[row.type] ?? row.type}</span>
                    {row.highlighted ? <span className="tag tag-accent">{s.nsLessonType}</span> : null}
                    <span className={`verdict ${row.shared ? 'same' : 'diff'}`}>{row.shared ? s.nsShared : s.nsSeparate}</span>
                  </div>
                  <div className="ns-boxes">
                    {row.boxes.map((b) => (
                      <Box key={b.inode} box={b} lang={lang} compact={compact} />
                    ))}
                  </div>
                </div>
              );
            })}
          </div>
          {tree ? (
            <div className="pid-tree">
              <h3>{s.pidTitle}</h3>
              <p className="pid-caption">{s.pidCaption}</p>
              <PidBox node={tree} all={picture.processes} lang={lang} />
            </div>
          ) : null}
        </div>
      )}
    </section>
  );
}

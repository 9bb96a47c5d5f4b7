'use client';
// The live namespace picture of the lab: for each namespace type, the distinct namespaces
// (by inode) as boxes with what each holds and the panes and processes in it, so the learner
// sees which namespaces the two shells share and which differ; the lesson's own types first,
// with their contents in full. Where a PID namespace of its own is in play, the PID of every
// process at each level of the PID namespace tree, as the kernel's NSpid reports it.
import type { Lang, NamespaceType, Picture } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import { isLabInit, nsRows, pidTree, showsPidLevels, type NsRow } from '../lib/picture';
import { NsBox } from './NsBox';
import { PidTree } from './PidTree';

export function NsGraph({ picture, types, lang, live }: { picture: Picture | null; types: NamespaceType[]; lang: Lang; live: boolean }) {
  const s = STRINGS[lang];
  const rows = picture ? nsRows(picture, types) : [];
  const tree = picture && showsPidLevels(picture, types) ? pidTree(picture) : null;
  const init = picture?.processes.find(isLabInit);
  const renderRow = (row: NsRow) => {
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
            <NsBox key={b.inode} box={b} picture={picture!} lang={lang} compact={compact} full={row.highlighted} />
          ))}
        </div>
      </div>
    );
  };
  return (
    <section
      className={`nsgraph${picture && !live ? ' stale' : ''}`}
      data-testid="ns-graph"
      data-ready={picture ? 'true' : 'false'}
      aria-labelledby="nsgraph-h"
    >
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
        <div className={`nsgraph-grid${tree ? ' with-pids' : ''}`}>
          {/* The lesson's own types first, then the PID levels, then the rest. */}
          <div className="ns-rows ns-rows-hl">{rows.filter((r) => r.highlighted).map((row) => renderRow(row))}</div>
          {tree ? <PidTree tree={tree} all={picture.processes} lang={lang} /> : null}
          <div className="ns-rows ns-rows-other">{rows.filter((r) => !r.highlighted).map((row) => renderRow(row))}</div>
        </div>
      )}
      {init ? (
        <p className="ns-foot" data-init-legend>
          <code>{init.comm}</code> {s.initLegend}
        </p>
      ) : null}
    </section>
  );
}

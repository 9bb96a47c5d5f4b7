// The course page's picture of PID namespaces: one parent, two children; the parent sees every
// process, each child only its own; process 3 of the parent is PID 1 in child A.
import type { Lang } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';

function Proc({ pid, inner, kind }: { pid: number; inner?: number; kind?: 'a' | 'b' }) {
  return (
    <span className={`fig-proc${kind ? ` fig-proc-${kind}` : ''}`}>
      <b>{pid}</b>
      {inner !== undefined ? <small>→ {inner}</small> : null}
    </span>
  );
}

export function PidFigure({ lang }: { lang: Lang }) {
  const s = STRINGS[lang];
  return (
    <figure className="pidfig">
      <figcaption className="pidfig-title">{s.figureTitle}</figcaption>
      <div className="fig-ns fig-parent">
        <div className="fig-label">{s.figureParent}</div>
        <div className="fig-procs">
          <Proc pid={1} />
          <Proc pid={2} />
          <Proc pid={3} inner={1} kind="a" />
          <Proc pid={4} inner={1} kind="b" />
          <Proc pid={5} inner={2} kind="a" />
          <Proc pid={6} inner={2} kind="b" />
        </div>
        <div className="fig-children">
          <ChildNs kind="a" label={s.figureChildA} />
          <div className="fig-wall" aria-hidden="true" />
          <ChildNs kind="b" label={s.figureChildB} />
        </div>
      </div>
      <p className="pidfig-caption">{s.figureCaption}</p>
    </figure>
  );
}

/** A child PID namespace of the figure: its own PIDs start again at 1. */
function ChildNs({ kind, label }: { kind: 'a' | 'b'; label: string }) {
  return (
    <div className={`fig-ns fig-child fig-${kind}`}>
      <div className="fig-label">{label}</div>
      <div className="fig-procs">
        {[1, 2].map((pid) => (
          <span key={pid} className={`fig-proc fig-proc-${kind}`}>
            <b>{pid}</b>
          </span>
        ))}
      </div>
    </div>
  );
}

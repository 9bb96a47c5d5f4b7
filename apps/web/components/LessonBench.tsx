'use client';
// The lesson's workbench: the connection line with the layout buttons, the panes (stacked, or
// side by side where each still gets 80 columns, or as the learner chose), and the namespace
// picture beside them on a wide screen or below them on a narrower one, foldable.
import { Fragment, useEffect, useRef, useState } from 'react';
import type { Lang } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import type { LessonPageData } from '../lib/content';
import type { LabSession, SessionState } from '../lib/session';
import { useMedia, type LessonLayout, type PaneArrangement } from '../lib/layout';
import { TerminalPane } from './TerminalPane';
import { NsGraph } from './NsGraph';
import { Splitter } from './Splitter';
import { ConnLine } from './ConnLine';
import { LayoutButtons } from './LayoutButtons';

/** Where the picture sits beside the panes (narrower: below them; a phone: one column). */
export const WIDE = '(min-width: 1240px)';
export const NARROW = '(max-width: 900px)';

/**
 * The width one pane needs for 80 columns of its terminal (a hidden probe in the terminal's
 * font), and the width of the box that holds the panes and the picture.
 */
function useRoom(body: React.RefObject<HTMLDivElement | null>, probe: React.RefObject<HTMLSpanElement | null>) {
  const [room, setRoom] = useState<{ paneMin: number; width: number } | null>(null);
  useEffect(() => {
    const box = body.current;
    if (!box) return;
    const measure = () => {
      const paneMin = Math.ceil(probe.current?.getBoundingClientRect().width || 660);
      const width = Math.round(box.getBoundingClientRect().width);
      setRoom((r) => (r && r.paneMin === paneMin && r.width === width ? r : { paneMin, width }));
    };
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(box);
    void document.fonts?.ready.then(measure);
    return () => ro.disconnect();
  }, [body, probe]);
  return room;
}

/** Whether two panes of `paneMin` fit side by side beside the picture (its share, at least 240 px, or its folded rail). */
function twoFit(room: { paneMin: number; width: number } | null, side: boolean, pictureOpen: boolean, pictureFrac: number): boolean {
  if (!room) return false;
  const picture = !side ? 0 : pictureOpen ? Math.max(240, pictureFrac * room.width) + 8 : 40;
  return room.width - picture >= 2 * room.paneMin + 8;
}

interface Props {
  lang: Lang;
  data: LessonPageData;
  session: LabSession;
  state: SessionState;
  layout: LessonLayout;
  setLayout: (patch: Partial<LessonLayout>) => void;
}

export function LessonBench({ lang, data, session, state, layout, setLayout }: Props) {
  const s = STRINGS[lang];
  const ready = state.phase === 'ready';
  const wide = useMedia(WIDE);
  const narrow = useMedia(NARROW);
  const bodyRef = useRef<HTMLDivElement>(null);
  const probe = useRef<HTMLSpanElement>(null);
  const room = useRoom(bodyRef, probe);
  const pictureOpen = layout.pictureOpen || narrow;
  const side = wide && !narrow;
  const auto: PaneArrangement = twoFit(room, side, pictureOpen, layout.pictureSide) ? 'columns' : 'rows';
  const arrangement: PaneArrangement = narrow ? 'rows' : (layout.panes ?? auto);
  // The learner's own choice of side by side may cost columns; stacked (or automatic) never does.
  const keepCols = arrangement === 'rows' || layout.panes === null;

  return (
    <section
      className={`bench panes-${arrangement}${pictureOpen ? ' picture-open' : ' picture-folded'}${side ? ' picture-side' : ' picture-below'}${keepCols ? ' keep-cols' : ''}`}
      id="shells"
      aria-label={s.shells}
      data-arrangement={arrangement}
      style={{
        ['--pane-min' as string]: room ? `${room.paneMin}px` : undefined,
        ['--picture-frac' as string]: String(side ? layout.pictureSide : layout.pictureBelow),
      }}
    >
      <ConnLine
        state={state}
        lang={lang}
        session={session}
        extra={
          <LayoutButtons
            s={s}
            arrangement={arrangement}
            pictureOpen={pictureOpen}
            onArrange={(a) => setLayout({ panes: a })}
            onPicture={(open) => setLayout({ pictureOpen: open })}
          />
        }
      />
      <div className="bench-body" ref={bodyRef}>
        <div className="panes" style={{ ['--pane-frac' as string]: String(layout.split) }}>
          <span className="cols-probe" ref={probe} aria-hidden="true" />
          {data.panes.map((p, i) => (
            <Fragment key={p.name}>
              {i === 1 ? (
                <Splitter
                  orientation={arrangement === 'columns' ? 'vertical' : 'horizontal'}
                  value={layout.split}
                  onChange={(f) => setLayout({ split: f })}
                  label={s.resizeSplit}
                />
              ) : null}
              <TerminalPane name={p.name} title={p.title} unshare={p.unshare} lang={lang} session={session} state={state.panes[p.name]} ready={ready} />
            </Fragment>
          ))}
        </div>
        {pictureOpen ? (
          <Splitter
            orientation={side ? 'vertical' : 'horizontal'}
            value={1 - (side ? layout.pictureSide : layout.pictureBelow)}
            onChange={(f) => setLayout(side ? { pictureSide: 1 - f } : { pictureBelow: 1 - f })}
            label={s.resizeSplit}
          />
        ) : null}
        <div className="picture-wrap" id="picture" data-open={pictureOpen ? 'true' : 'false'}>
          {pictureOpen ? (
            <NsGraph picture={state.picture} types={data.types} lang={lang} live={ready} />
          ) : (
            <button type="button" className="picture-rail" onClick={() => setLayout({ pictureOpen: true })} aria-expanded="false" data-picture-toggle>
              <span>{s.pictureUnfold}</span>
            </button>
          )}
        </div>
      </div>
    </section>
  );
}

// Two buttons on the lesson's connection line: the shells stacked or side by side, and the
// namespace picture shown or folded. The page keeps the choice (lib/layout.ts).
import type { Strings } from '../lib/i18n';
import type { PaneArrangement } from '../lib/layout';

export function LayoutButtons({
  s,
  arrangement,
  pictureOpen,
  onArrange,
  onPicture,
}: {
  s: Strings;
  arrangement: PaneArrangement;
  pictureOpen: boolean;
  onArrange: (a: PaneArrangement) => void;
  onPicture: (open: boolean) => void;
}) {
  const next: PaneArrangement = arrangement === 'rows' ? 'columns' : 'rows';
  const arrangeLabel = next === 'columns' ? s.layoutSideBySide : s.layoutStacked;
  const pictureLabel = pictureOpen ? s.pictureFold : s.pictureUnfold;
  return (
    <span className="layout-buttons">
      <button type="button" className="icon-btn" title={arrangeLabel} aria-label={arrangeLabel} onClick={() => onArrange(next)} data-layout-panes={arrangement}>
        <svg viewBox="0 0 20 20" aria-hidden="true">
          <rect x="2.5" y="3.5" width="15" height="13" rx="2" fill="none" stroke="currentColor" strokeWidth="1.6" />
          {next === 'rows' ? <path d="M2.5 10h15" stroke="currentColor" strokeWidth="1.6" /> : <path d="M10 3.5v13" stroke="currentColor" strokeWidth="1.6" />}
        </svg>
      </button>
      <button
        type="button"
        className="icon-btn"
        title={pictureLabel}
        aria-label={pictureLabel}
        aria-pressed={pictureOpen}
        onClick={() => onPicture(!pictureOpen)}
        data-picture-toggle
      >
        <svg viewBox="0 0 20 20" aria-hidden="true">
          <rect x="2.5" y="3.5" width="15" height="13" rx="2" fill="none" stroke="currentColor" strokeWidth="1.6" />
          <path d="M12.5 3.5v13" stroke="currentColor" strokeWidth="1.6" />
          {pictureOpen ? <rect x="12.5" y="3.5" width="5" height="13" fill="currentColor" opacity="0.45" /> : null}
        </svg>
      </button>
    </span>
  );
}

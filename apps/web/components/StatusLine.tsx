// The line above a lab's panes, on the lesson page and on the watch page alike: a dot in the
// tone's colour, what the connection is doing, which lab it is, and the page's buttons.
import type { ReactNode } from 'react';
import type { Strings } from '../lib/i18n';

export type Tone = 'ok' | 'wait' | 'bad';

export interface Status {
  text: string;
  tone: Tone;
  /** The page offers to try again at once. */
  retry?: boolean;
}

/**
 * The phases both pages have, in the page's own words for waiting: null for any other phase.
 * `error` is also what an unknown phase shows.
 */
export function connectionStatus(
  state: { phase: string; retryIn: number; message: string | null },
  s: Strings,
  words: { connecting: string; opening: string },
): Status | null {
  switch (state.phase) {
    case 'connecting':
      return { text: words.connecting, tone: 'wait' };
    case 'opening':
      return { text: words.opening, tone: 'wait' };
    case 'unreachable':
      return { text: s.connUnreachable(state.retryIn), tone: 'bad', retry: true };
    case 'error':
      return { text: s.connError(state.message ?? ''), tone: 'bad', retry: true };
  }
  return null;
}

export function StatusLine({
  status,
  attrs,
  badge,
  labId,
  s,
  children,
}: {
  status: Status;
  /** The data attribute that names the phase (tests read it). */
  attrs: Record<`data-${string}`, string>;
  badge?: string;
  labId: string | null;
  s: Strings;
  children?: ReactNode;
}) {
  return (
    <div className={`connline tone-${status.tone}`} role="status" aria-live="polite" {...attrs}>
      <span className="conn-dot" aria-hidden="true" />
      {badge ? <span className="watch-badge">{badge}</span> : null}
      <span className="conn-text">{status.text}</span>
      {labId ? (
        <span className="conn-lab" title={labId}>
          {s.labLabel} <code>{labId.slice(0, 8)}</code>
        </span>
      ) : null}
      {children}
    </div>
  );
}

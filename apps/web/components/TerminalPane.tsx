'use client';
// One pane: a real shell in the lab, shown with xterm.js (useTerminal: the terminal, its addons
// and its session), with its head (name, what it is, its state, search) and what sits over the
// terminal (the search box, the "shell exited" bar with Restart). After a reload, a language
// switch or a dropped connection the agent redraws the exact screen, so it comes back as it was.
// Read-only (a viewer of a shared lab): no input at all, the writer's size, scaled to fit.
import { type ReactNode, useCallback, useRef, useState } from 'react';
import type { Lang } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import type { PaneState } from '../lib/store';
import type { PaneSource } from '../lib/terminal';
import { useTerminal } from './useTerminal';
import { TerminalSearch } from './TerminalSearch';

export interface PaneProps {
  name: string;
  title: string | null;
  unshare: string[];
  lang: Lang;
  session: PaneSource;
  state: PaneState | undefined;
  ready: boolean;
  /** A viewer's pane: shows the writer's screen at the writer's size, takes no input. */
  readOnly?: boolean;
  /** Beside the terminal, inside the pane (the builder's code for it). */
  aside?: ReactNode;
  /** A pane that may be closed (the builder's): its close button, with its tooltip. */
  onClose?: { run: () => void; label: string; title: string };
  /** Instead of the pane's own "what it is" hint. */
  hint?: string;
}

function SearchIcon() {
  return (
    <svg viewBox="0 0 20 20" aria-hidden="true">
      <circle cx="8.5" cy="8.5" r="5.5" fill="none" stroke="currentColor" strokeWidth="2" />
      <path d="M13 13l4.5 4.5" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
    </svg>
  );
}

export function TerminalPane({ name, title, unshare, lang, session, state, ready, readOnly = false, aside, onClose, hint: hintText }: PaneProps) {
  const s = STRINGS[lang];
  const hostRef = useRef<HTMLDivElement>(null);
  const searchInput = useRef<HTMLInputElement>(null);
  const [searchOpen, setSearchOpen] = useState(false);
  const openSearch = useCallback(() => {
    setSearchOpen(true);
    setTimeout(() => searchInput.current?.select(), 0);
  }, []);
  const pane = useTerminal(hostRef, { name, session, readOnly, onFind: openSearch });
  const term = pane?.term ?? null;

  const running = state?.running ?? false;
  const exited = ready && state !== undefined && !state.running;
  const status = !ready ? s.paneWaiting : !state?.attached ? s.paneStarting : running ? s.paneRunning : s.paneExited(state.exitCode, state.signal);
  const hint = hintText ?? (unshare.length ? s.paneOwnNs(unshare.join(' · ')) : s.paneHostHint);
  const kind = name === 'host' ? 'host' : name === 'container' ? 'container' : 'other';

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a press anywhere on the pane gives its terminal the keyboard; the terminal is the interactive element
    <div
      className={`pane pane-${kind}${exited ? ' is-exited' : ''}${readOnly ? ' is-readonly' : ''}${aside ? ' with-aside' : ''}`}
      data-pane={name}
      data-readonly={readOnly ? 'true' : undefined}
      data-running={running ? 'true' : 'false'}
      onMouseDown={(e) => {
        if ((e.target as HTMLElement).closest('button, input')) return;
        requestAnimationFrame(() => term?.focus());
      }}
    >
      <div className="pane-head">
        <span className="pane-dot" aria-hidden="true" />
        <span className="pane-name">{title ?? name}</span>
        <span className="pane-hint">{hint}</span>
        <span className={`pane-status${exited ? ' bad' : ''}`} data-pane-status>
          {status}
        </span>
        <button
          type="button"
          className="icon-btn"
          title={`${s.search} (Ctrl+F)`}
          aria-label={s.search}
          onClick={() => {
            setSearchOpen((o) => !o);
            setTimeout(() => searchInput.current?.focus(), 0);
          }}
        >
          <SearchIcon />
        </button>
        {onClose ? (
          <button type="button" className="btn btn-small" title={onClose.title} onClick={onClose.run} data-pane-close>
            {onClose.label}
          </button>
        ) : null}
      </div>
      <div className="pane-body">
        <div className="pane-term" ref={hostRef} />
        <TerminalSearch
          open={searchOpen}
          search={pane?.search ?? null}
          s={s}
          inputRef={searchInput}
          onClose={() => {
            setSearchOpen(false);
            term?.focus();
          }}
        />
        {exited ? (
          <div className="pane-exit" role="status">
            <span>{s.paneExited(state.exitCode, state.signal)}</span>
            {readOnly ? null : (
              <button type="button" className="btn btn-small" onClick={() => void session.restart(name)}>
                {s.restart}
              </button>
            )}
          </div>
        ) : null}
      </div>
      {aside}
    </div>
  );
}

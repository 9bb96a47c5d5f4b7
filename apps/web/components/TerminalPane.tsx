'use client';
// One pane: a real shell in the lab, shown with xterm.js. Fit to its box, clickable links,
// Ctrl/Cmd+F search, Unicode 11 widths (CJK), copy on select, paste with Ctrl/Cmd+V and
// Shift+Insert (as a paste, never as ^V). After a reload or a language switch the agent replays
// the shell's latest output, so the screen comes back as it was.
import { useEffect, useRef, useState } from 'react';
import type { Terminal } from '@xterm/xterm';
import type { SearchAddon } from '@xterm/addon-search';
import type { Lang } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import type { LabSession, PaneState } from '../lib/session';

export const TERM_FONT =
  "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', 'Noto Sans Mono CJK SC', 'Noto Sans Mono CJK TC', 'Sarasa Mono SC', 'PingFang SC', 'Microsoft YaHei', monospace";

const THEME = {
  background: '#0f1416',
  foreground: '#d9e0e3',
  cursor: '#f4f4f0',
  cursorAccent: '#0f1416',
  selectionBackground: '#3b5560',
  black: '#1b2226',
  red: '#f07178',
  green: '#a5d96b',
  yellow: '#f2c66d',
  blue: '#6cb6ff',
  magenta: '#d2a6ff',
  cyan: '#5fd1c5',
  white: '#d9e0e3',
  brightBlack: '#5c6a72',
  brightRed: '#ff8f95',
  brightGreen: '#c2f08a',
  brightYellow: '#ffd98a',
  brightBlue: '#9ccfff',
  brightMagenta: '#e4c4ff',
  brightCyan: '#8ff0e5',
  brightWhite: '#ffffff',
};

declare global {
  interface Window {
    __nslab?: { terms: Record<string, Terminal>; lab: string | null };
  }
}

async function copyText(text: string) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
  } catch {
    /* fall through */
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  const active = document.activeElement as HTMLElement | null;
  ta.select();
  try {
    document.execCommand('copy');
  } catch {
    /* nothing more to try */
  }
  ta.remove();
  active?.focus();
}

export interface PaneProps {
  name: string;
  title: string | null;
  unshare: string[];
  lang: Lang;
  session: LabSession;
  state: PaneState | undefined;
  ready: boolean;
}

export function TerminalPane({ name, title, unshare, lang, session, state, ready }: PaneProps) {
  const s = STRINGS[lang];
  const hostRef = useRef<HTMLDivElement>(null);
  const termRef = useRef<Terminal | null>(null);
  const searchRef = useRef<SearchAddon | null>(null);
  const searchInput = useRef<HTMLInputElement>(null);
  const [searchOpen, setSearchOpen] = useState(false);
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<{ index: number; count: number } | null>(null);

  useEffect(() => {
    let disposed = false;
    let cleanup: (() => void) | undefined;
    (async () => {
      const [{ Terminal }, { FitAddon }, { WebLinksAddon }, { SearchAddon }, { Unicode11Addon }] = await Promise.all([
        import('@xterm/xterm'),
        import('@xterm/addon-fit'),
        import('@xterm/addon-web-links'),
        import('@xterm/addon-search'),
        import('@xterm/addon-unicode11'),
      ]);
      if (disposed || !hostRef.current) return;
      const small = window.matchMedia('(max-width: 600px)').matches;
      const term = new Terminal({
        fontFamily: TERM_FONT,
        fontSize: small ? 12 : 13,
        lineHeight: 1.15,
        cursorBlink: true,
        scrollback: 5000,
        allowProposedApi: true,
        theme: THEME,
        macOptionIsMeta: true,
        rightClickSelectsWord: false,
        convertEol: false,
      });
      const fit = new FitAddon();
      const search = new SearchAddon();
      term.loadAddon(fit);
      term.loadAddon(new WebLinksAddon());
      term.loadAddon(search);
      term.loadAddon(new Unicode11Addon());
      term.unicode.activeVersion = '11';
      term.open(hostRef.current);
      termRef.current = term;
      searchRef.current = search;
      const subs: { dispose(): void }[] = [];
      subs.push(search.onDidChangeResults((r) => setResults({ index: r.resultIndex, count: r.resultCount })));

      const doFit = () => {
        const el = hostRef.current;
        if (!el || el.clientWidth < 20 || el.clientHeight < 20) return;
        const before = [term.cols, term.rows];
        try {
          fit.fit();
        } catch {
          return;
        }
        if (term.cols !== before[0] || term.rows !== before[1]) session.resize(name, term.cols, term.rows);
      };
      doFit();

      // Keys the browser, not the shell, should get.
      term.attachCustomKeyEventHandler((e) => {
        const mod = e.ctrlKey || e.metaKey;
        const key = e.key.toLowerCase();
        if (e.type === 'keydown' && mod && !e.altKey && key === 'f') {
          e.preventDefault();
          setSearchOpen(true);
          setTimeout(() => searchInput.current?.select(), 0);
          return false;
        }
        // Paste: let the browser fire its paste event, which xterm turns into (bracketed) input.
        if (mod && !e.altKey && key === 'v') return false;
        if (e.shiftKey && e.key === 'Insert') return false;
        // Copy with a selection (Cmd+C, Ctrl+Shift+C); plain Ctrl+C stays an interrupt.
        if (e.type === 'keydown' && key === 'c' && (e.metaKey || (e.ctrlKey && e.shiftKey)) && term.hasSelection()) {
          void copyText(term.getSelection());
          return false;
        }
        return true;
      });
      subs.push(term.onData((d) => session.input(name, d)));
      let copyTimer: ReturnType<typeof setTimeout> | undefined;
      subs.push(
        term.onSelectionChange(() => {
          clearTimeout(copyTimer);
          copyTimer = setTimeout(() => {
            const sel = term.getSelection();
            if (sel) void copyText(sel);
          }, 250);
        }),
      );
      subs.push({ dispose: () => clearTimeout(copyTimer) });

      const ro = new ResizeObserver(() => requestAnimationFrame(doFit));
      ro.observe(hostRef.current);

      const nslab = (window.__nslab ??= { terms: {}, lab: null });
      nslab.terms[name] = term;

      const unregister = session.registerTerminal(name, term, {
        note: (text) => term.write(`\x1b[2m(${text})\x1b[0m\r\n`),
      });

      cleanup = () => {
        unregister();
        ro.disconnect();
        subs.forEach((x) => x.dispose());
        if (nslab.terms[name] === term) delete nslab.terms[name];
        term.dispose();
        termRef.current = null;
      };
    })();
    return () => {
      disposed = true;
      cleanup?.();
    };
  }, [name, session]);

  const find = (dir: 'next' | 'prev', q = query) => {
    const search = searchRef.current;
    if (!search) return;
    if (!q) {
      search.clearDecorations();
      setResults(null);
      return;
    }
    const opts = {
      incremental: dir === 'next',
      decorations: {
        matchBackground: '#3d4f26',
        matchOverviewRuler: '#a5d96b',
        activeMatchBackground: '#8a6d1f',
        activeMatchColorOverviewRuler: '#f2c66d',
      },
    };
    const found = dir === 'next' ? search.findNext(q, opts) : search.findPrevious(q, opts);
    if (!found) setResults({ index: -1, count: 0 });
  };

  const closeSearch = () => {
    setSearchOpen(false);
    searchRef.current?.clearDecorations();
    setResults(null);
    termRef.current?.focus();
  };

  const running = state?.running ?? false;
  const exited = ready && state !== undefined && !state.running;
  const status = !ready ? s.paneWaiting : !state?.attached ? s.paneStarting : running ? s.paneRunning : s.paneExited(state.exitCode, state.signal);
  const hint = unshare.length ? s.paneOwnNs(unshare.join(' · ')) : s.paneHostHint;

  return (
    <div
      className={`pane pane-${name === 'host' ? 'host' : name === 'container' ? 'container' : 'other'}${exited ? ' is-exited' : ''}`}
      data-pane={name}
      data-running={running ? 'true' : 'false'}
      onMouseDown={(e) => {
        if ((e.target as HTMLElement).closest('button, input')) return;
        requestAnimationFrame(() => termRef.current?.focus());
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
          <svg viewBox="0 0 20 20" aria-hidden="true">
            <circle cx="8.5" cy="8.5" r="5.5" fill="none" stroke="currentColor" strokeWidth="2" />
            <path d="M13 13l4.5 4.5" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
          </svg>
        </button>
      </div>
      <div className="pane-body">
        <div className="pane-term" ref={hostRef} />
        {searchOpen ? (
          <div className="pane-search" role="search">
            <input
              ref={searchInput}
              value={query}
              placeholder={s.searchPlaceholder}
              aria-label={s.searchPlaceholder}
              onChange={(e) => {
                setQuery(e.target.value);
                find('next', e.target.value);
              }}
              onKeyDown={(e) => {
                if (e.key === 'Enter') {
                  e.preventDefault();
                  find(e.shiftKey ? 'prev' : 'next');
                } else if (e.key === 'Escape') {
                  e.preventDefault();
                  closeSearch();
                }
              }}
            />
            <span className="search-count">
              {results && query ? (results.count === 0 ? s.searchNoMatch : results.index >= 0 ? `${results.index + 1}/${results.count}` : `${results.count}`) : ''}
            </span>
            <button type="button" className="icon-btn" aria-label="↑" onClick={() => find('prev')}>
              ↑
            </button>
            <button type="button" className="icon-btn" aria-label="↓" onClick={() => find('next')}>
              ↓
            </button>
            <button type="button" className="icon-btn" aria-label={s.closeSearch} onClick={closeSearch}>
              ✕
            </button>
          </div>
        ) : null}
        {exited ? (
          <div className="pane-exit" role="status">
            <span>{s.paneExited(state.exitCode, state.signal)}</span>
            <button type="button" className="btn btn-small" onClick={() => void session.restart(name)}>
              {s.restart}
            </button>
          </div>
        ) : null}
      </div>
    </div>
  );
}

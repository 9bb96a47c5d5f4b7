'use client';
// One pane: a real shell in the lab, shown with xterm.js. Fit to its box, clickable links,
// Ctrl/Cmd+F search, Unicode 11 widths (CJK), IME composition (xterm's own), copy on select,
// paste with Ctrl/Cmd+V, Shift+Insert and right-click (as a paste, bracketed when the program
// asks, never as ^V). After a reload, a language switch or a dropped connection the agent
// redraws the exact screen, so it comes back as it was.
// Read-only (a viewer of a shared lab): no input at all, the writer's size, scaled to fit.
import { useEffect, useRef, useState } from 'react';
import type { Terminal } from '@xterm/xterm';
import type { SearchAddon } from '@xterm/addon-search';
import type { SerializeAddon } from '@xterm/addon-serialize';
import type { Lang } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import type { PaneState, TermLike } from '../lib/store';

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

/** What the page exposes for tests and debugging: each pane's terminal and its screen. */
export interface NslabHandle {
  terms: Record<string, Terminal>;
  lab: string | null;
  /** The pane's screen as escape sequences (scrollback, alternate buffer, modes, cursor). */
  serialize(pane: string): string | null;
  serializers: Record<string, SerializeAddon>;
  /** Stream offsets per pane (what the terminal has, what it rendered, what it acknowledged). */
  offsets?: () => Record<string, unknown>;
  /** Drop the WebSocket as a failing network would, unreachable for `forMs`; the page reconnects by itself. */
  drop?: (forMs?: number) => void;
  /** Read-only viewer page. */
  readOnly?: boolean;
}

declare global {
  interface Window {
    __nslab?: NslabHandle;
  }
}

export function nslabHandle(): NslabHandle {
  return (window.__nslab ??= {
    terms: {},
    lab: null,
    serializers: {},
    serialize(pane: string) {
      return this.serializers[pane]?.serialize() ?? null;
    },
  });
}

/** Where a pane's terminal gets its stream, and sends its keys and size. */
export interface PaneSource {
  registerTerminal(name: string, term: TermLike): () => void;
  input(pane: string, data: string): boolean;
  resize(pane: string, cols: number, rows: number): void;
  restart(pane: string): Promise<void>;
  /** The learner is using this terminal (a watch page has none: read-only). */
  focus?(pane: string): void;
}

/** Reading the clipboard is allowed here (a secure page whose permission is not denied). */
let clipboardRead: PermissionState | 'unknown' = 'unknown';
function watchClipboardPermission() {
  if (clipboardRead !== 'unknown' || typeof navigator === 'undefined' || !navigator.permissions) return;
  navigator.permissions
    .query({ name: 'clipboard-read' as PermissionName })
    .then((st) => {
      clipboardRead = st.state;
      st.onchange = () => (clipboardRead = st.state);
    })
    .catch(() => {
      /* a browser without that permission name: try readText and see */
    });
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
  session: PaneSource;
  state: PaneState | undefined;
  ready: boolean;
  /** A viewer's pane: shows the writer's screen at the writer's size, takes no input. */
  readOnly?: boolean;
}

export function TerminalPane({ name, title, unshare, lang, session, state, ready, readOnly = false }: PaneProps) {
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
      const [{ Terminal }, { FitAddon }, { WebLinksAddon }, { SearchAddon }, { Unicode11Addon }, { SerializeAddon }] = await Promise.all([
        import('@xterm/xterm'),
        import('@xterm/addon-fit'),
        import('@xterm/addon-web-links'),
        import('@xterm/addon-search'),
        import('@xterm/addon-unicode11'),
        import('@xterm/addon-serialize'),
      ]);
      if (disposed || !hostRef.current) return;
      const small = window.matchMedia('(max-width: 600px)').matches;
      const term = new Terminal({
        fontFamily: TERM_FONT,
        fontSize: small ? 12 : 13,
        lineHeight: 1.15,
        cursorBlink: !readOnly,
        disableStdin: readOnly,
        scrollback: 5000,
        allowProposedApi: true,
        theme: THEME,
        macOptionIsMeta: true,
        rightClickSelectsWord: false,
        convertEol: false,
      });
      const fit = new FitAddon();
      const search = new SearchAddon();
      const serializer = new SerializeAddon();
      term.loadAddon(fit);
      term.loadAddon(serializer);
      term.loadAddon(new WebLinksAddon());
      term.loadAddon(search);
      term.loadAddon(new Unicode11Addon());
      term.unicode.activeVersion = '11';
      term.open(hostRef.current);
      termRef.current = term;
      searchRef.current = search;

      const host = hostRef.current;
      const doFit = () => {
        const el = hostRef.current;
        if (!el || el.clientWidth < 20 || el.clientHeight < 20) return;
        if (readOnly) return scaleToFit();
        const before = [term.cols, term.rows];
        try {
          fit.fit();
        } catch {
          return;
        }
        if (term.cols !== before[0] || term.rows !== before[1]) session.resize(name, term.cols, term.rows);
      };
      // A viewer shows the writer's cols x rows: shrink the whole terminal to fit its box.
      const scaleToFit = () => {
        const el = hostRef.current;
        const screen = term.element?.querySelector<HTMLElement>('.xterm-screen');
        if (!el || !term.element || !screen || !screen.offsetWidth || !screen.offsetHeight) return;
        const scale = Math.min(1, el.clientWidth / (screen.offsetWidth + 16), el.clientHeight / (screen.offsetHeight + 4));
        term.element.style.transformOrigin = '0 0';
        term.element.style.transform = scale < 1 ? `scale(${scale})` : '';
        term.element.style.width = `${screen.offsetWidth + 16}px`;
        term.element.style.height = `${screen.offsetHeight + 4}px`;
        el.dataset.scale = scale.toFixed(3);
      };
      doFit();

      const subs: { dispose(): void }[] = [];
      subs.push(search.onDidChangeResults((r) => setResults({ index: r.resultIndex, count: r.resultCount })));
      if (readOnly) subs.push(term.onResize(() => requestAnimationFrame(scaleToFit)));

      // Keys the browser, not the shell, should get.
      term.attachCustomKeyEventHandler((e) => {
        // While an input method composes (Chinese, Japanese...), every key belongs to it.
        if (e.isComposing || e.keyCode === 229) return true;
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
        // Copy with a selection (Cmd+C, Ctrl+Shift+C, Ctrl+Insert); plain Ctrl+C stays an interrupt.
        const copyKey = (key === 'c' && (e.metaKey || (e.ctrlKey && e.shiftKey))) || (e.ctrlKey && e.key === 'Insert');
        if (e.type === 'keydown' && copyKey && term.hasSelection()) {
          void copyText(term.getSelection());
          return false;
        }
        return true;
      });
      if (!readOnly) {
        subs.push(term.onData((d) => session.input(name, d)));
        // The terminal in use paces its pane: say so when it gets the focus, and when the page
        // comes back to the front with it focused.
        const focused = () => session.focus?.(name);
        term.textarea?.addEventListener('focus', focused);
        const visible = () => {
          if (document.visibilityState === 'visible' && document.activeElement === term.textarea) session.focus?.(name);
        };
        document.addEventListener('visibilitychange', visible);
        subs.push({
          dispose: () => {
            term.textarea?.removeEventListener('focus', focused);
            document.removeEventListener('visibilitychange', visible);
          },
        });
      }
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

      // Right-click: copy the selection if there is one, else paste the clipboard (where the
      // browser lets the page read it; otherwise its own menu, whose Paste works too).
      watchClipboardPermission();
      const onContextMenu = (e: MouseEvent) => {
        if (term.hasSelection()) {
          e.preventDefault();
          void copyText(term.getSelection());
          term.clearSelection();
          return;
        }
        if (readOnly || !window.isSecureContext || !navigator.clipboard?.readText || clipboardRead === 'denied') return;
        e.preventDefault();
        navigator.clipboard.readText().then(
          (text) => {
            if (text) term.paste(text);
            term.focus();
          },
          () => {
            /* not allowed after all: nothing pasted */
          },
        );
      };
      host.addEventListener('contextmenu', onContextMenu);
      subs.push({ dispose: () => host.removeEventListener('contextmenu', onContextMenu) });

      const ro = new ResizeObserver(() => requestAnimationFrame(doFit));
      ro.observe(host);

      const nslab = nslabHandle();
      nslab.terms[name] = term;
      nslab.serializers[name] = serializer;

      const unregister = session.registerTerminal(name, term);

      cleanup = () => {
        unregister();
        ro.disconnect();
        subs.forEach((x) => x.dispose());
        if (nslab.terms[name] === term) {
          delete nslab.terms[name];
          delete nslab.serializers[name];
        }
        term.dispose();
        termRef.current = null;
      };
    })();
    return () => {
      disposed = true;
      cleanup?.();
    };
  }, [name, session, readOnly]);

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
      className={`pane pane-${name === 'host' ? 'host' : name === 'container' ? 'container' : 'other'}${exited ? ' is-exited' : ''}${readOnly ? ' is-readonly' : ''}`}
      data-pane={name}
      data-readonly={readOnly ? 'true' : undefined}
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
            {readOnly ? null : (
              <button type="button" className="btn btn-small" onClick={() => void session.restart(name)}>
                {s.restart}
              </button>
            )}
          </div>
        ) : null}
      </div>
    </div>
  );
}

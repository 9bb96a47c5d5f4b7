'use client';
// The search box over a pane's terminal (Ctrl/Cmd+F, or the pane's search button): finds as the
// learner types, Enter for the next match, Shift+Enter for the one before, Escape to close; says
// which match of how many. Its query stays while it is closed.
import { useEffect, useState, type RefObject } from 'react';
import type { SearchAddon } from '@xterm/addon-search';
import type { Strings } from '../lib/i18n';
import { SEARCH_DECORATIONS } from '../lib/term-theme';

interface Props {
  open: boolean;
  /** The terminal's search addon (null until the terminal is open). */
  search: SearchAddon | null;
  s: Strings;
  /** The query's input, for the pane to focus or select. */
  inputRef: RefObject<HTMLInputElement | null>;
  /** Escape or ✕: the pane closes the box (and gives the terminal the focus back). */
  onClose(): void;
}

export function TerminalSearch({ open, search, s, inputRef, onClose }: Props) {
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<{ index: number; count: number } | null>(null);

  useEffect(() => {
    if (!search) return;
    const sub = search.onDidChangeResults((r) => setResults({ index: r.resultIndex, count: r.resultCount }));
    return () => sub.dispose();
  }, [search]);

  // Closed: no highlights left on the terminal.
  useEffect(() => {
    if (open) return;
    search?.clearDecorations();
    setResults(null);
  }, [open, search]);

  const find = (dir: 'next' | 'prev', q = query) => {
    if (!search) return;
    if (!q) {
      search.clearDecorations();
      setResults(null);
      return;
    }
    const opts = { incremental: dir === 'next', decorations: SEARCH_DECORATIONS };
    const found = dir === 'next' ? search.findNext(q, opts) : search.findPrevious(q, opts);
    if (!found) setResults({ index: -1, count: 0 });
  };

  if (!open) return null;
  const count =
    results && query ? (results.count === 0 ? s.searchNoMatch : results.index >= 0 ? `${results.index + 1}/${results.count}` : `${results.count}`) : '';
  return (
    <search className="pane-search">
      <input
        ref={inputRef}
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
            onClose();
          }
        }}
      />
      <span className="search-count">{count}</span>
      <button type="button" className="icon-btn" aria-label="↑" onClick={() => find('prev')}>
        ↑
      </button>
      <button type="button" className="icon-btn" aria-label="↓" onClick={() => find('next')}>
        ↓
      </button>
      <button type="button" className="icon-btn" aria-label={s.closeSearch} onClick={onClose}>
        ✕
      </button>
    </search>
  );
}

'use client';
// A pane's terminal for as long as its component lives: opened in the box (lib/terminal.ts),
// joined to its session (the stream, keystrokes, size, and telling the agent which terminal is in
// use), published on window.__nslab, Ctrl/Cmd+F handed to the page, all undone on unmount.
import { useEffect, useRef, useState, type RefObject } from 'react';
import type { IDisposable, Terminal } from '@xterm/xterm';
import { openTerminal, type PaneSource, type PaneTerminal } from '../lib/terminal';
import { modKey } from '../lib/term-keys';
import { publishTerminal } from '../lib/nslab-handle';

export interface UseTerminalOptions {
  name: string;
  session: PaneSource;
  readOnly: boolean;
  /** Ctrl/Cmd+F in the terminal: open the search. */
  onFind(): void;
}

/**
 * The terminal in use paces its pane (docs/protocol.md, `focus`): say so when it gets the focus,
 * and when the page comes back to the front with it focused.
 */
function reportFocus(term: Terminal, report: () => void): IDisposable {
  const textarea = term.textarea;
  const visible = () => {
    if (document.visibilityState === 'visible' && document.activeElement === textarea) report();
  };
  textarea?.addEventListener('focus', report);
  document.addEventListener('visibilitychange', visible);
  return {
    dispose: () => {
      textarea?.removeEventListener('focus', report);
      document.removeEventListener('visibilitychange', visible);
    },
  };
}

export function useTerminal(host: RefObject<HTMLElement | null>, { name, session, readOnly, onFind }: UseTerminalOptions): PaneTerminal | null {
  const [opened, setOpened] = useState<PaneTerminal | null>(null);
  const find = useRef(onFind);
  useEffect(() => {
    find.current = onFind;
  }, [onFind]);

  useEffect(() => {
    const box = host.current;
    if (!box) return;
    const abort = new AbortController();
    let close: (() => void) | undefined;
    void openTerminal(box, { readOnly, resized: (cols, rows) => session.resize(name, cols, rows), signal: abort.signal }).then((pt) => {
      if (!pt) return;
      const { term } = pt;
      const subs: IDisposable[] = [
        pt.keys.add((e) => {
          if (e.type !== 'keydown' || !modKey(e, 'f')) return undefined;
          e.preventDefault();
          find.current();
          return false;
        }),
      ];
      if (!readOnly) {
        subs.push(term.onData((d) => session.input(name, d)));
        subs.push(reportFocus(term, () => session.focus?.(name)));
      }
      const unpublish = publishTerminal(name, term, pt.serializer);
      const unregister = session.registerTerminal(name, term);
      setOpened(pt);
      close = () => {
        unregister();
        for (const d of subs) d.dispose();
        unpublish();
        term.dispose();
        setOpened(null);
      };
    });
    return () => {
      abort.abort();
      close?.();
    };
  }, [host, name, session, readOnly]);

  return opened;
}

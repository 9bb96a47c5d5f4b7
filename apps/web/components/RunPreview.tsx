'use client';
// On a phone the panes are far below the text: after a Run, the last lines the command printed
// appear under its code block, read from the pane's terminal as they arrive, with a way to the
// full terminal, so the learner stays in the lesson.
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { createPortal } from 'react-dom';
import type { IMarker, Terminal } from '@xterm/xterm';
import type { Strings } from '../lib/i18n';
import { printedSince, type Printed } from '../lib/term-text';
import { nslabHandle } from '../lib/nslab-handle';

/** Lines a preview shows. */
const SHOWN = 6;

interface Entry {
  id: number;
  pane: string;
  term: Terminal;
  /** Where the command was typed, and where the next command in this pane was (then final). */
  start: IMarker;
  end: IMarker | null;
  host: HTMLElement;
}

const read = (e: Entry): Printed => {
  if (e.start.isDisposed || e.start.line < 0) return { lines: [], done: true };
  const end = e.end && !e.end.isDisposed && e.end.line >= 0 ? e.end.line : null;
  return printedSince(e.term.buffer.active, e.start.line, 1, end);
};

function Preview({ entry, s, onOpen, onClose }: { entry: Entry; s: Strings; onOpen: () => void; onClose: () => void }) {
  const [printed, setPrinted] = useState<Printed>(() => read(entry));
  const [fullScreen, setFullScreen] = useState(false);
  useEffect(() => {
    let frame = 0;
    const update = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => {
        setFullScreen(entry.term.buffer.active.type === 'alternate');
        setPrinted(read(entry));
      });
    };
    update();
    if (entry.end) return () => cancelAnimationFrame(frame);
    const subs = [entry.term.onWriteParsed(update), entry.term.buffer.onBufferChange(update)];
    return () => {
      cancelAnimationFrame(frame);
      for (const x of subs) x.dispose();
    };
  }, [entry]);
  const shown = printed.lines.slice(-SHOWN);
  const earlier = printed.lines.length - shown.length;
  return (
    <div className="run-preview" data-run-preview={entry.pane} data-done={printed.done ? 'true' : 'false'} role="status" aria-live="polite">
      <div className="rp-head">
        <span className={`rp-pane cb-pane cb-pane-${entry.pane}`}>{s.previewOf(entry.pane)}</span>
        {printed.done ? null : <span className="rp-running">{s.previewRunning}</span>}
        <button type="button" className="rp-close" aria-label={s.previewClose} title={s.previewClose} onClick={onClose}>
          ✕
        </button>
      </div>
      {earlier > 0 ? <p className="rp-earlier">{s.previewEarlier(earlier)}</p> : null}
      {fullScreen ? (
        <p className="rp-note">{s.previewFullScreen}</p>
      ) : shown.length ? (
        <pre className="rp-lines" data-preview-lines>
          {shown.join('\n')}
        </pre>
      ) : printed.done ? (
        <p className="rp-note">{s.previewNoOutput}</p>
      ) : null}
      <button type="button" className="rp-open link-btn" onClick={onOpen} data-preview-open>
        {s.previewOpen(entry.pane)} ↓
      </button>
    </div>
  );
}

/**
 * Previews under code blocks: `start(block, pane)` right after a Run sends the block's command;
 * `portals` goes into the page's tree. `onOpen(pane)`: the learner asks for the full terminal.
 */
export function useRunPreviews(s: Strings, onOpen: (pane: string) => void): { start: (block: HTMLElement, pane: string) => void; portals: ReactNode } {
  const [entries, setEntries] = useState<Entry[]>([]);
  const seq = useRef(0);
  const start = useCallback((block: HTMLElement, pane: string) => {
    const term = nslabHandle().terms[pane];
    if (!term) return;
    const marker = term.registerMarker(0);
    if (!marker) return;
    let host = block.querySelector<HTMLElement>(':scope > .run-preview-host');
    if (!host) {
      host = document.createElement('div');
      host.className = 'run-preview-host';
      block.appendChild(host);
    }
    const entry: Entry = { id: ++seq.current, pane, term, start: marker, end: null, host };
    setEntries((list) => [
      // The block's earlier preview is replaced; the pane's other previews are final from here.
      ...list.filter((e) => e.host !== host).map((e) => (e.pane === pane && !e.end ? { ...e, end: marker } : e)),
      entry,
    ]);
  }, []);
  const close = (id: number) => setEntries((list) => list.filter((e) => e.id !== id));
  const portals = entries.map((e) => createPortal(<Preview entry={e} s={s} onOpen={() => onOpen(e.pane)} onClose={() => close(e.id)} />, e.host, String(e.id)));
  return { start, portals };
}

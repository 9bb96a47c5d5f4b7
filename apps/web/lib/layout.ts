// The lesson page's layout as the learner left it, kept in localStorage: the width of the text
// column, whether the two shells are stacked or side by side (null: whatever gives each shell 80
// columns), where the split between them is, whether the namespace picture is folded, and how
// much room it takes.
import { useCallback, useEffect, useState } from 'react';

export type PaneArrangement = 'rows' | 'columns';

export interface LessonLayout {
  /** null: side by side only where both shells get 80 columns; else the learner's choice. */
  panes: PaneArrangement | null;
  pictureOpen: boolean;
  /** The text column's share of the page's width. */
  text: number;
  /** The first pane's share of the panes' box. */
  split: number;
  /** The picture's share of the workbench beside the shells (wide screens) ... */
  pictureSide: number;
  /** ... and below them (narrower screens). */
  pictureBelow: number;
}

export const DEFAULT_LAYOUT: LessonLayout = { panes: null, pictureOpen: true, text: 0.3, split: 0.5, pictureSide: 0.34, pictureBelow: 0.3 };

const KEY = 'nslab.layout';

const fraction = (x: unknown, fallback: number) => (typeof x === 'number' && x >= 0.1 && x <= 0.9 ? x : fallback);

export function parseLayout(raw: string | null): LessonLayout {
  let v: Partial<Record<keyof LessonLayout, unknown>> = {};
  try {
    v = raw ? (JSON.parse(raw) as typeof v) : {};
  } catch {
    /* a broken value: the defaults */
  }
  if (!v || typeof v !== 'object') v = {};
  const d = DEFAULT_LAYOUT;
  return {
    panes: v.panes === 'rows' || v.panes === 'columns' ? v.panes : null,
    pictureOpen: typeof v.pictureOpen === 'boolean' ? v.pictureOpen : d.pictureOpen,
    text: fraction(v.text, d.text),
    split: fraction(v.split, d.split),
    pictureSide: fraction(v.pictureSide, d.pictureSide),
    pictureBelow: fraction(v.pictureBelow, d.pictureBelow),
  };
}

/** The layout (the defaults until the page has read localStorage) and a setter that keeps it. */
export function useLessonLayout(): [LessonLayout, (patch: Partial<LessonLayout>) => void] {
  const [layout, setLayout] = useState<LessonLayout>(DEFAULT_LAYOUT);
  useEffect(() => {
    try {
      setLayout(parseLayout(localStorage.getItem(KEY)));
    } catch {
      /* no storage: the defaults */
    }
  }, []);
  const update = useCallback((patch: Partial<LessonLayout>) => {
    setLayout((cur) => {
      const next = { ...cur, ...patch };
      try {
        localStorage.setItem(KEY, JSON.stringify(next));
      } catch {
        /* not kept */
      }
      return next;
    });
  }, []);
  return [layout, update];
}

/** Whether a media query matches, following it (false on the server and before mount). */
export function useMedia(query: string): boolean {
  const [matches, setMatches] = useState(false);
  useEffect(() => {
    const m = window.matchMedia(query);
    setMatches(m.matches);
    const on = () => setMatches(m.matches);
    m.addEventListener('change', on);
    return () => m.removeEventListener('change', on);
  }, [query]);
  return matches;
}

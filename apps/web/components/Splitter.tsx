'use client';
// A drag handle between two boxes of a flex container (its parent). Reports the pointer's
// position as a fraction of the parent's width (vertical handle) or height (horizontal handle).
import { useCallback, useEffect, useState } from 'react';

export function Splitter({
  orientation,
  value,
  onChange,
  label,
}: {
  /** vertical: a vertical bar that splits left | right. */
  orientation: 'vertical' | 'horizontal';
  /** The fraction before the handle, 0..1. */
  value: number;
  onChange: (fraction: number) => void;
  label: string;
}) {
  const [dragging, setDragging] = useState(false);
  const move = useCallback(
    (el: HTMLElement, x: number, y: number) => {
      const parent = el.parentElement;
      if (!parent) return;
      const r = parent.getBoundingClientRect();
      const f = orientation === 'vertical' ? (x - r.left) / r.width : (y - r.top) / r.height;
      onChange(Math.min(0.85, Math.max(0.15, f)));
    },
    [orientation, onChange],
  );
  useEffect(() => {
    if (!dragging) return;
    document.body.classList.add(orientation === 'vertical' ? 'dragging-x' : 'dragging-y');
    return () => document.body.classList.remove('dragging-x', 'dragging-y');
  }, [dragging, orientation]);
  return (
    // biome-ignore lint/a11y/useSemanticElements: a focusable window splitter (the ARIA separator pattern with a value); <hr> is a static rule
    <div
      className={`splitter splitter-${orientation}${dragging ? ' active' : ''}`}
      role="separator"
      aria-orientation={orientation}
      aria-label={label}
      title={label}
      aria-valuemin={15}
      aria-valuemax={85}
      aria-valuenow={Math.round(value * 100)}
      tabIndex={0}
      onPointerDown={(e) => {
        e.preventDefault();
        e.currentTarget.setPointerCapture(e.pointerId);
        setDragging(true);
      }}
      onPointerMove={(e) => {
        if (dragging) move(e.currentTarget, e.clientX, e.clientY);
      }}
      onPointerUp={(e) => {
        e.currentTarget.releasePointerCapture(e.pointerId);
        setDragging(false);
      }}
      onPointerCancel={() => setDragging(false)}
      onDoubleClick={() => onChange(0.5)}
      onKeyDown={(e) => {
        const dec = orientation === 'vertical' ? 'ArrowLeft' : 'ArrowUp';
        const inc = orientation === 'vertical' ? 'ArrowRight' : 'ArrowDown';
        if (e.key === dec || e.key === inc) {
          e.preventDefault();
          onChange(Math.min(0.85, Math.max(0.15, value + (e.key === inc ? 0.03 : -0.03))));
        }
      }}
    >
      <span className="splitter-grip" aria-hidden="true" />
    </div>
  );
}

/** A fraction kept in localStorage. */
export function useStoredFraction(key: string, initial: number): [number, (f: number) => void] {
  const [v, setV] = useState(initial);
  useEffect(() => {
    const raw = Number(localStorage.getItem(key));
    if (raw > 0.1 && raw < 0.9) setV(raw);
  }, [key]);
  const set = useCallback(
    (f: number) => {
      setV(f);
      try {
        localStorage.setItem(key, String(f));
      } catch {
        /* not kept */
      }
    },
    [key],
  );
  return [v, set];
}

// Code that is wider than its block scrolls sideways: say so. Each `pre` under the root gets
// data-scroll="left", "right" or "left right" (the sides where text is cut), which the CSS shows
// as a fade at that edge, and becomes focusable so the keyboard can scroll it too.
import { useEffect, type RefObject } from 'react';

function update(pre: HTMLElement) {
  const max = pre.scrollWidth - pre.clientWidth;
  const sides = [pre.scrollLeft > 1 ? 'left' : '', pre.scrollLeft < max - 1 ? 'right' : ''].filter(Boolean).join(' ');
  if (sides) pre.dataset.scroll = sides;
  else delete pre.dataset.scroll;
  if (max > 1) pre.tabIndex = 0;
  else pre.removeAttribute('tabindex');
}

export function useScrollHints(root: RefObject<HTMLElement | null>, selector = '.codeblock pre') {
  useEffect(() => {
    const el = root.current;
    if (!el) return;
    const pres = [...el.querySelectorAll<HTMLElement>(selector)];
    const onScroll = (e: Event) => update(e.currentTarget as HTMLElement);
    const ro = new ResizeObserver((entries) => {
      for (const e of entries) update(e.target as HTMLElement);
    });
    for (const pre of pres) {
      pre.addEventListener('scroll', onScroll, { passive: true });
      ro.observe(pre);
      update(pre);
    }
    // Widths change once the fonts are in.
    let live = true;
    void document.fonts?.ready.then(() => {
      if (live) for (const p of pres) update(p);
    });
    return () => {
      live = false;
      ro.disconnect();
      for (const p of pres) p.removeEventListener('scroll', onScroll);
    };
  }, [root, selector]);
}

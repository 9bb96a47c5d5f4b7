'use client';
// A recording replayed in the browser: the asciinema player (served by the agent, /player/...)
// on a signed link from the dashboard (in the fragment: #src=<link>), with its markers (each task
// done) as a list to jump to. STABLE HOOKS: [data-replay] (the player's box), [data-marker].
import { useEffect, useRef, useState } from 'react';
import type { Lang } from '@nslab/shared';
import { WORKSHOP_STRINGS } from '../lib/workshop-strings';

interface Player {
  seek(where: number): Promise<void> | void;
  dispose(): void;
}
declare global {
  interface Window {
    AsciinemaPlayer?: { create(src: string, el: HTMLElement, opts: Record<string, unknown>): Player };
  }
}

function load(tag: 'script' | 'link', url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const el = document.createElement(tag);
    if (tag === 'script') (el as HTMLScriptElement).src = url;
    else Object.assign(el as HTMLLinkElement, { rel: 'stylesheet', href: url });
    el.addEventListener('load', () => resolve());
    el.addEventListener('error', () => reject(new Error(`could not load ${url}`)));
    document.head.append(el);
  });
}

export function CastReplay({ lang }: { lang: Lang }) {
  const s = WORKSHOP_STRINGS[lang];
  const box = useRef<HTMLDivElement>(null);
  const player = useRef<Player | null>(null);
  const [src, setSrc] = useState<string | null>(null);
  const [markers, setMarkers] = useState<Array<{ t: number; label: string }>>([]);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    const m = /(?:^#|&)src=([^&]+)/.exec(window.location.hash);
    const url = m ? decodeURIComponent(m[1]!) : null;
    if (!url?.startsWith('/api/casts/')) {
      setProblem(s.replayNoLink);
      return;
    }
    setSrc(url);
    let disposed = false;
    (async () => {
      const res = await fetch(url);
      if (!res.ok) throw new Error((await res.text()).trim());
      const text = await res.text();
      const found: Array<{ t: number; label: string }> = [];
      for (const line of text.split('\n').slice(1)) {
        if (!line) continue;
        const ev = JSON.parse(line) as [number, string, string];
        if (ev[1] === 'm') found.push({ t: ev[0], label: ev[2] });
      }
      setMarkers(found);
      await Promise.all([load('link', '/player/asciinema-player.css'), load('script', '/player/asciinema-player.min.js')]);
      if (disposed || !box.current || !window.AsciinemaPlayer) return;
      player.current = window.AsciinemaPlayer.create(url, box.current, { fit: 'width', idleTimeLimit: 2, preload: true });
    })().catch((err: Error) => setProblem(err.message));
    return () => {
      disposed = true;
      player.current?.dispose();
    };
  }, [s.replayNoLink]);

  return (
    <main className="dash replay">
      <h1>{s.replayTitle}</h1>
      {problem ? (
        <p className="dash-note" data-replay-error>
          {problem}
        </p>
      ) : null}
      <div ref={box} data-replay className="replay-box" />
      {markers.length ? (
        <ol className="replay-markers">
          {markers.map((m) => (
            <li key={`${m.t}-${m.label}`}>
              <button type="button" className="quiet" data-marker={m.label} onClick={() => void player.current?.seek(m.t)}>
                {m.t.toFixed(1)} s · {m.label}
              </button>
            </li>
          ))}
        </ol>
      ) : null}
      {src ? (
        <p>
          <a href={`${src}&download=1`} data-cast-download>
            {s.download}
          </a>
        </p>
      ) : null}
    </main>
  );
}

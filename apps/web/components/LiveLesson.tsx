'use client';
// The lesson page's workspace as the lesson's file changes under it (the agent watching its
// lessons): new text, steps and tasks come in as new `data` while the lab and its terminals stay.
// The panes of an open lab were made when it opened and cannot change: when the file's panes are
// no longer those, the page says so and offers a new lab (the page shows the panes it has until then).
import { useRef, useState } from 'react';
import type { Lang } from '@nslab/shared';
import type { LessonPageData } from '../lib/content';
import { withConnection } from '../lib/socket';
import { LessonWorkspace } from './LessonWorkspace';

const STRINGS = {
  en: {
    panes: "This lesson's panes changed in its file. The open lab keeps the panes it was made with; a new lab gets the new ones.",
    restart: 'Close this lab and reload',
  },
  zh: {
    panes: '这一课的文件改变了窗格。已打开的实验环境保留创建时的窗格；新的实验环境才会有新的窗格。',
    restart: '关闭这个实验环境并重新加载',
  },
} as const;

const paneKey = (panes: LessonPageData['panes']) => JSON.stringify(panes.map((p) => [p.name, [...p.unshare].sort()]));

async function closeLabAndReload(lesson: string) {
  const key = `nslab.lab.${lesson}`;
  let lab: string | null = null;
  try {
    lab = sessionStorage.getItem(key);
    sessionStorage.removeItem(key);
  } catch {
    /* no storage: the page finds the lab again, by its lesson */
  }
  if (lab) {
    const id = lab;
    await withConnection((s) => s.request({ type: 'close', lab: id })).catch(() => undefined);
  }
  location.reload();
}

export function LiveLesson({ lang, data }: { lang: Lang; data: LessonPageData }) {
  const s = STRINGS[lang];
  // The panes the page (and its lab) started with.
  const first = useRef(data.panes);
  const [busy, setBusy] = useState(false);
  const changed = paneKey(first.current) !== paneKey(data.panes);
  const shown = changed ? { ...data, panes: first.current } : data;
  return (
    <>
      {changed ? (
        <div className="lesson-panes-changed" data-lesson-panes-changed="" role="status">
          <span>{s.panes}</span>{' '}
          <button
            type="button"
            className="btn"
            disabled={busy}
            onClick={() => {
              setBusy(true);
              void closeLabAndReload(data.id);
            }}
          >
            {s.restart}
          </button>
        </div>
      ) : null}
      <LessonWorkspace lang={lang} data={shown} />
    </>
  );
}

// The lesson files, read at build time (server only). content/lessons/<lang>/<id>.md, found by
// walking up from the working directory (next build runs in apps/web; the agent in the repo root).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadLessons, type Lesson } from '@nslab/shared/content';
import { NAMESPACES, NAMESPACE_TYPES, type Lang, type LessonDoc, type NamespaceType } from '@nslab/shared';
import { renderMarkdown } from './markdown';

function contentDir(): string {
  if (process.env.NSLAB_CONTENT) return resolve(process.env.NSLAB_CONTENT);
  let dir = process.cwd();
  for (;;) {
    const candidate = join(dir, 'content', 'lessons');
    if (existsSync(join(candidate, 'en'))) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no content/lessons directory above ${process.cwd()}`);
    dir = up;
  }
}

let cache: Lesson[] | null = null;
export function lessons(): Lesson[] {
  cache ??= loadLessons(contentDir());
  return cache;
}

export function lesson(id: string): Lesson | undefined {
  return lessons().find((l) => l.id === id);
}

/** The namespace types the lesson's container pane gets, in catalogue order. */
export function lessonTypes(doc: LessonDoc): NamespaceType[] {
  const container = doc.panes.find((p) => p.name === 'container');
  const set = new Set(container?.unshare ?? []);
  return NAMESPACE_TYPES.filter((t) => set.has(t));
}

/** Which lesson teaches a namespace type: the one whose container unshares it first. */
export function lessonForType(type: NamespaceType): Lesson | undefined {
  const all = lessons();
  return (
    all.find((l) => l.docs.en.panes.find((p) => p.name === 'container')?.unshare[0] === type) ??
    all.find((l) => l.docs.en.panes.some((p) => p.unshare.includes(type)))
  );
}

export interface LessonCardData {
  id: string;
  order: number;
  index: number;
  title: string;
  summary: string;
  flags: { type: NamespaceType; flag: string; since: string }[];
  taskIds: string[];
}

export function lessonCards(lang: Lang): LessonCardData[] {
  return lessons().map((l, i) => {
    const doc = l.docs[lang];
    return {
      id: l.id,
      order: l.order,
      index: i + 1,
      title: doc.title,
      summary: doc.summary,
      flags: lessonTypes(doc).map((t) => ({ type: t, flag: NAMESPACES[t].flag, since: NAMESPACES[t].since })),
      taskIds: doc.tasks.map((t) => t.id),
    };
  });
}

/** Everything the lesson page's client side needs: plain, serialisable data. */
export interface LessonPageData {
  id: string;
  index: number;
  total: number;
  title: string;
  summary: string;
  introHtml: string;
  steps: { id: string; title: string; html: string; tasks: string[] }[];
  tasks: { id: string; step: string; title: string }[];
  panes: { name: string; title: string | null; unshare: NamespaceType[] }[];
  types: NamespaceType[];
  next: { id: string; title: string } | null;
  prev: { id: string; title: string } | null;
}

export function lessonPage(id: string, lang: Lang): LessonPageData | null {
  const all = lessons();
  const i = all.findIndex((l) => l.id === id);
  if (i < 0) return null;
  const doc = all[i]!.docs[lang];
  const near = (j: number) => (all[j] ? { id: all[j]!.id, title: all[j]!.docs[lang].title } : null);
  // A Markdown mistake (a `:::deeper` never closed) stops the build with the file that has it.
  const render = (md: string, where: string) => {
    try {
      return renderMarkdown(md, lang);
    } catch (err) {
      throw new Error(`content/lessons/${lang}/${id}.md, ${where}: ${(err as Error).message}`);
    }
  };
  return {
    id,
    index: i + 1,
    total: all.length,
    title: doc.title,
    summary: doc.summary,
    introHtml: render(doc.intro, 'introduction'),
    steps: doc.steps.map((s) => ({
      id: s.id,
      title: s.title,
      html: render(s.markdown, `step ${s.id}`),
      tasks: doc.tasks.filter((t) => t.step === s.id).map((t) => t.id),
    })),
    tasks: doc.tasks.map((t) => ({ id: t.id, step: t.step, title: t.title })),
    panes: doc.panes.map((p) => ({ name: p.name, title: p.title ?? null, unshare: [...p.unshare] })),
    types: lessonTypes(doc),
    next: near(i + 1),
    prev: near(i - 1),
  };
}

/** What a watch view shows of a lesson: its panes and tasks (the text stays on the lesson page). */
export type WatchLesson = Pick<LessonPageData, 'id' | 'index' | 'title' | 'panes' | 'tasks' | 'types'>;

/** Every lesson as a watch view needs it, by id: which lesson a lab is of is known only later. */
export function watchLessons(lang: Lang): Record<string, WatchLesson> {
  const all: Record<string, WatchLesson> = {};
  for (const l of lessons()) {
    const d = lessonPage(l.id, lang);
    if (d) all[l.id] = { id: d.id, index: d.index, title: d.title, panes: d.panes, tasks: d.tasks, types: d.types };
  }
  return all;
}

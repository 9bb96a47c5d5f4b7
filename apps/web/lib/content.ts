// The lesson files (server only), read when a page is rendered. Inside the agent (which serves
// this app from its own process) they are the agent's: the lessons it loaded from its content
// directories, reloaded when a file changes with watching on (NSLAB_LESSONS_WATCH), and the
// problems of the files that do not load. Anywhere else (`next dev` on its own, a script) they are
// read from NSLAB_CONTENT (directories separated by ':', `shipped` for the checkout's), else the
// content/lessons found by walking up from the working directory.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { formatProblem, loadLessons, resolveContentDirs, type Lesson, type LessonProblem } from '@nslab/shared/content';
import { NAMESPACES, NAMESPACE_TYPES, type Lang, type LessonDoc, type NamespaceType } from '@nslab/shared';
import { renderMarkdown } from './markdown';

/** What the agent publishes (apps/agent/src/lessons/catalogue.ts, PublishedContent). */
interface AgentContent {
  generation: number;
  lessons: Lesson[];
  problems: LessonProblem[];
  watching: boolean;
}

const CONTENT_KEY = Symbol.for('nslab.content');

function fromAgent(): AgentContent | undefined {
  return (globalThis as Record<symbol, AgentContent | undefined>)[CONTENT_KEY];
}

function shippedDir(): string {
  let dir = process.cwd();
  for (;;) {
    const candidate = join(dir, 'content', 'lessons');
    if (existsSync(join(candidate, 'en'))) return candidate;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no content/lessons directory above ${process.cwd()}`);
    dir = up;
  }
}

function contentDirs(): string[] {
  const given = process.env.NSLAB_CONTENT?.split(':').filter((d) => d.trim());
  if (given?.length) return resolveContentDirs(given, given.includes('shipped') ? shippedDir() : '');
  return [shippedDir()];
}

let diskCache: Lesson[] | null = null;
function current(): AgentContent {
  const agent = fromAgent();
  if (agent) return agent;
  diskCache ??= loadLessons(contentDirs());
  return { generation: 0, lessons: diskCache, problems: [], watching: false };
}

export function lessons(): Lesson[] {
  return current().lessons;
}

export function lesson(id: string): Lesson | undefined {
  return lessons().find((l) => l.id === id);
}

/** Whether the lessons reload when their files change (the pages then listen for it). */
export function lessonsLive(): boolean {
  return current().watching;
}

/**
 * The problems of a lesson's files (`file:line: field: reason`), and those of no one lesson (a
 * missing directory): a page shows them instead of the lesson.
 */
export function lessonProblems(id: string): string[] {
  const of = (p: LessonProblem) => /(?:^|[\\/])[a-z]{2}[\\/]([a-z][a-z0-9-]*)\.md$/.exec(p.file)?.[1] ?? null;
  return current()
    .problems.filter((p) => {
      const l = of(p);
      return l === id || l === null;
    })
    .map(formatProblem);
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

/** Rendered pages of the current lessons (a page load renders no Markdown twice); dropped on a reload. */
const pages = new Map<string, LessonPageData>();
let pagesOf = -1;

export function lessonPage(id: string, lang: Lang): LessonPageData | null {
  const { generation } = current();
  if (generation !== pagesOf) {
    pages.clear();
    pagesOf = generation;
  }
  const key = `${lang}/${id}`;
  const cached = pages.get(key);
  if (cached) return cached;
  // Only lessons are kept: any id can be asked for, and a miss must not grow the map.
  const page = renderLessonPage(id, lang);
  if (page) pages.set(key, page);
  return page;
}

/** How many rendered lesson pages are kept (for the tests: a miss must not add one). */
export function renderedPages(): number {
  return pages.size;
}

function renderLessonPage(id: string, lang: Lang): LessonPageData | null {
  const all = lessons();
  const i = all.findIndex((l) => l.id === id);
  if (i < 0) return null;
  const doc = all[i]!.docs[lang];
  const near = (j: number) => (all[j] ? { id: all[j]!.id, title: all[j]!.docs[lang].title } : null);
  // A Markdown mistake (a `:::deeper` never closed) names the file, the step and the reason.
  const render = (md: string, where: string) => {
    try {
      return renderMarkdown(md, lang);
    } catch (err) {
      throw new Error(`${lang}/${id}.md: ${where}: ${(err as Error).message}`);
    }
  };
  return {
    id,
    index: i + 1,
    total: all.length,
    title: doc.title,
    summary: doc.summary,
    introHtml: render(doc.intro, 'intro'),
    steps: doc.steps.map((s) => ({
      id: s.id,
      title: s.title,
      html: render(s.markdown, `steps.${s.id}`),
      tasks: doc.tasks.filter((t) => t.step === s.id).map((t) => t.id),
    })),
    tasks: doc.tasks.map((t) => ({ id: t.id, step: t.step, title: t.title })),
    panes: doc.panes.map((p) => ({ name: p.name, title: p.title ?? null, unshare: [...p.unshare] })),
    types: lessonTypes(doc),
    next: near(i + 1),
    prev: near(i - 1),
  };
}

/**
 * A lesson page's data, or the problems that keep it from being shown: its files' (with the agent
 * watching, a file being edited), or a Markdown mistake found while rendering it. Neither: no such lesson.
 */
export function pageOrProblems(id: string, lang: Lang): { data: LessonPageData | null; problems: string[] } {
  const problems = lessonProblems(id);
  if (problems.length) return { data: null, problems };
  try {
    return { data: lessonPage(id, lang), problems: [] };
  } catch (err) {
    return { data: null, problems: [(err as Error).message] };
  }
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

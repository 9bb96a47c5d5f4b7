// The lessons the agent serves, read from the content directories (<dir>/<lang>/<id>.md, several
// directories merged in course order): each lesson's panes (what the agent makes) and tasks (what
// it checks). With watching on (NSLAB_LESSONS_WATCH, `nslab lessons serve`), a changed file
// reloads the catalogue: a lesson whose files now have a problem keeps its last good version here
// (open labs go on being checked), while the problems are published for the pages to show.
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { LANGS, type LessonDef, type TaskDef } from '@nslab/shared';
import { loadLessons, validateLessonDirs, type Lesson, type LessonProblem } from '@nslab/shared/content';

export interface CatalogueEntry {
  def: LessonDef;
  tasks: TaskDef[];
  titles: Record<string, string>;
  /** Its place in the course (front matter `order`). */
  order: number;
}

/** What the web app reads of the agent's lessons (it runs in the agent's process): see publishContent. */
export interface PublishedContent {
  /** Goes up by one on every reload. */
  generation: number;
  /** The lessons whose files have no problem, in course order. */
  lessons: Lesson[];
  /** Every problem of the last reload, `file:line: field: reason` (formatProblem). */
  problems: LessonProblem[];
  /** Whether the lessons reload when their files change. */
  watching: boolean;
}

/** Where the agent leaves its lessons for the web app of the same process (apps/web/lib/content.ts). */
export const CONTENT_KEY = Symbol.for('nslab.content');

export interface CatalogueChange {
  generation: number;
  problems: LessonProblem[];
  /** Lessons whose entry (panes, tasks or titles) is not what it was. */
  changed: string[];
}

/** How long the files must be quiet before a reload: an editor's save is several events. */
const DEBOUNCE_MS = 150;

/** The lesson a problem is about, from its file (…/<lang>/<id>.md), or null (a directory). */
export function problemLesson(p: LessonProblem): string | null {
  const m = /(?:^|[\\/])(?:[a-z]{2})[\\/]([a-z][a-z0-9-]*)\.md$/.exec(p.file);
  return m ? m[1]! : null;
}

function entryOf(l: Lesson): CatalogueEntry {
  const en = l.docs.en;
  return {
    def: {
      id: l.id,
      title: en.title,
      panes: en.panes.map((p) => ({
        name: p.name,
        unshare: p.unshare,
        ...(p.timeOffsets ? { timeOffsets: p.timeOffsets } : {}),
        ...(p.delegatedCgroup ? { delegatedCgroup: true } : {}),
      })),
    },
    tasks: en.tasks,
    titles: Object.fromEntries(Object.entries(l.docs).map(([lang, d]) => [lang, d.title])),
    order: l.order,
  };
}

export class Catalogue extends EventEmitter<{ changed: [CatalogueChange] }> {
  private entries = new Map<string, CatalogueEntry>();
  private lessons: Lesson[] = [];
  private problems: LessonProblem[] = [];
  private generation = 0;
  private watchers: FSWatcher[] = [];
  private watched = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private watching = false;

  constructor(
    lessons: Lesson[],
    /** Where the lessons came from (reload reads them again). */
    readonly dirs: readonly string[] = [],
  ) {
    super();
    this.setMaxListeners(0);
    this.apply(lessons, []);
  }

  /** The lessons of `dir` (or of several, merged); throws a LessonFormatError for the first problem. */
  static load(dir: string | readonly string[]): Catalogue {
    const dirs = typeof dir === 'string' ? [dir] : [...dir];
    return new Catalogue(loadLessons(dirs), dirs);
  }

  /**
   * The lessons of the directories as they are, problems and all (none thrown): for an agent
   * that watches its lessons, whose author fixes a file while it runs.
   */
  static tolerant(dirs: readonly string[]): Catalogue {
    const c = new Catalogue([], dirs);
    c.reload();
    return c;
  }

  get(id: string): CatalogueEntry | undefined {
    return this.entries.get(id);
  }

  ids(): string[] {
    return [...this.entries.keys()];
  }

  list(): CatalogueEntry[] {
    return [...this.entries.values()];
  }

  /** What the pages show: the lessons without problems, and the problems. */
  content(): PublishedContent {
    return { generation: this.generation, lessons: this.lessons, problems: this.problems, watching: this.watching };
  }

  private apply(lessons: Lesson[], problems: LessonProblem[]): string[] {
    const broken = new Set(problems.map(problemLesson).filter((id): id is string => id !== null));
    const next = new Map<string, CatalogueEntry>();
    for (const l of lessons) next.set(l.id, entryOf(l));
    // A lesson being edited into a mistake keeps its last good version for the labs already open.
    for (const [id, e] of this.entries) if (!next.has(id) && broken.has(id)) next.set(id, e);
    const sorted = [...next.entries()].sort(([a, x], [b, y]) => x.order - y.order || a.localeCompare(b));
    const changed = [...new Set([...this.entries.keys(), ...next.keys()])].filter(
      (id) => JSON.stringify(this.entries.get(id)) !== JSON.stringify(next.get(id)),
    );
    this.entries = new Map(sorted);
    this.lessons = lessons;
    this.problems = problems;
    this.generation++;
    return changed;
  }

  /** Read the directories again (every problem kept, none thrown) and tell the listeners. */
  reload(): CatalogueChange {
    const report = validateLessonDirs(this.dirs);
    const changed = this.apply(report.lessons, report.problems);
    const change = { generation: this.generation, problems: report.problems, changed };
    this.emit('changed', change);
    if (this.watching) this.arm();
    return change;
  }

  /**
   * Watch the directories and their language directories (fs.watch on the directories, not the
   * files: an editor that saves by writing a new file and renaming it over the old one is seen),
   * and reload DEBOUNCE_MS after the last change. Returns the function that stops.
   */
  watch(): () => void {
    this.watching = true;
    this.arm();
    return () => this.unwatch();
  }

  unwatch() {
    this.watching = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const w of this.watchers) w.close();
    this.watchers = [];
    this.watched.clear();
  }

  /** Watch every directory there is now (a language directory made later is watched from its parent's event). */
  private arm() {
    for (const dir of this.dirs) {
      for (const d of [dir, ...LANGS.map((l) => join(dir, l))]) {
        if (this.watched.has(d)) continue;
        try {
          const w = watch(d, { persistent: false }, () => this.soon());
          w.on('error', () => {
            // The directory went away: watch it again when it is back (after the next reload).
            w.close();
            this.watchers = this.watchers.filter((x) => x !== w);
            this.watched.delete(d);
            this.soon();
          });
          this.watchers.push(w);
          this.watched.add(d);
        } catch {
          /* not there (yet) */
        }
      }
    }
  }

  private soon() {
    if (!this.watching) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.watching) this.reload();
    }, DEBOUNCE_MS);
  }
}

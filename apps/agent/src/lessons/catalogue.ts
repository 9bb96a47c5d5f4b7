// The lessons the agent serves, read from the content files (content/lessons/<lang>/<id>.md):
// each lesson's panes (what the agent makes) and tasks (what it checks).
import { loadLessons, type Lesson } from '@nslab/shared/content';
import type { LessonDef, TaskDef } from '@nslab/shared';

export interface CatalogueEntry {
  def: LessonDef;
  tasks: TaskDef[];
  titles: Record<string, string>;
}

export class Catalogue {
  private readonly entries = new Map<string, CatalogueEntry>();

  constructor(lessons: Lesson[]) {
    for (const l of lessons) {
      const en = l.docs.en;
      this.entries.set(l.id, {
        def: {
          id: l.id,
          title: en.title,
          panes: en.panes.map((p) => ({ name: p.name, unshare: p.unshare, ...(p.timeOffsets ? { timeOffsets: p.timeOffsets } : {}) })),
        },
        tasks: en.tasks,
        titles: Object.fromEntries(Object.entries(l.docs).map(([lang, d]) => [lang, d.title])),
      });
    }
  }

  static load(dir: string): Catalogue {
    return new Catalogue(loadLessons(dir));
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
}

// Lessons from several content directories, merged into one course (Node only: it reads the
// file system). Each directory is checked on its own (lesson-validate.ts); the lessons of all of
// them are then put in course order (front matter `order`, then id). A lesson id found in two
// directories is a problem of the later one's file, naming the earlier one's: which of the two
// the agent should serve is not something to guess.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { validateLessonDir, type Lesson, type LessonDirReport, type LessonProblem } from './lesson-validate.js';
import { LANGS } from './lesson-format.js';

/** The word that stands for the lessons shipped with nslab in a list of content directories. */
export const SHIPPED_LESSONS = 'shipped';

/**
 * A content setting's entries as absolute directories: `shipped` is `shippedDir`, anything else
 * must be an absolute path. Repeats are dropped (the first one stays).
 */
export function resolveContentDirs(entries: readonly string[], shippedDir: string): string[] {
  const out: string[] = [];
  for (const raw of entries) {
    const e = raw.trim();
    if (!e) continue;
    const dir = e === SHIPPED_LESSONS ? shippedDir : resolve(e);
    if (!out.includes(dir)) out.push(dir);
  }
  return out;
}

/** The line of `id:` in a lesson file's front matter (1 when it cannot be read). */
function idLine(path: string): number {
  try {
    const lines = readFileSync(path, 'utf8').split('\n');
    const i = lines.findIndex((l) => /^id\s*:/.test(l));
    return i >= 0 ? i + 1 : 1;
  } catch {
    return 1;
  }
}

/** Every lesson of every directory, merged in course order, with every problem of all of them. */
export function validateLessonDirs(dirs: readonly string[]): LessonDirReport {
  if (dirs.length === 1) return validateLessonDir(dirs[0]!);
  const shown = (path: string) => relative(process.cwd(), path) || path;
  const problems: LessonProblem[] = [];
  const files: string[] = [];
  const lessons: Lesson[] = [];
  /** Where each lesson id was first found: its directory. */
  const first = new Map<string, string>();
  if (!dirs.length) problems.push({ file: '(content)', line: 0, field: 'directory', reason: 'no lesson directory given' });
  for (const dir of dirs) {
    const report = validateLessonDir(dir);
    problems.push(...report.problems);
    files.push(...report.files);
    // By file, not by valid lesson: a broken copy clashes with the other as much as a good one.
    const ids = new Set(report.files.map((f) => basename(f, '.md')));
    for (const id of ids) {
      const earlier = first.get(id);
      if (earlier === undefined) {
        first.set(id, dir);
        continue;
      }
      for (const lang of LANGS) {
        const here = join(dir, lang, `${id}.md`);
        if (!existsSync(here)) continue;
        const there = [join(earlier, lang, `${id}.md`), ...LANGS.map((l) => join(earlier, l, `${id}.md`))].find((f) => existsSync(f))!;
        problems.push({
          file: shown(here),
          line: idLine(here),
          field: 'id',
          reason: `lesson "${id}" is also in ${shown(there)}; a lesson id may be used once`,
        });
      }
    }
    lessons.push(...report.lessons.filter((l) => first.get(l.id) === dir));
  }
  lessons.sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
  return { lessons, problems, files };
}

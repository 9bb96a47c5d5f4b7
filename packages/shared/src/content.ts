// Loading lesson files from disk (Node only: the web app's server side, the agent, the build).
// A malformed file is an error that names the file and the field: the first problem that
// lesson-validate.ts finds (`nslab lessons validate` prints them all).
import { checkLessonText, type Lesson, type LessonProblem } from './lesson-validate.js';
import { validateLessonDirs } from './lesson-dirs.js';
import type { LessonDoc } from './lesson-format.js';

export { checkLessonText, formatProblem, validateLessonDir } from './lesson-validate.js';
export { SHIPPED_LESSONS, resolveContentDirs, validateLessonDirs } from './lesson-dirs.js';
export type { CheckedLesson, CheckedStep, ClickToRunBlock, Lesson, LessonDirReport, LessonProblem } from './lesson-validate.js';

export class LessonFormatError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    problem: string,
    /** Where in the file (1-based), when there is a line to point at. */
    readonly line?: number,
  ) {
    super(`${file}: ${field}: ${problem}`);
    this.name = 'LessonFormatError';
  }
}

function fail(p: LessonProblem): never {
  throw new LessonFormatError(p.file, p.field, p.reason, p.line > 0 ? p.line : undefined);
}

/** One lesson file's text; throws a LessonFormatError for its first problem. */
export function parseLesson(text: string, file: string): LessonDoc {
  const checked = checkLessonText(text, file);
  if (checked.problems[0]) fail(checked.problems[0]);
  return checked.doc!;
}

/**
 * Every lesson under `dir` (dir/<lang>/<id>.md), or under each of several directories (merged;
 * an id in two of them is an error naming both files), each in every language, in course order.
 * The languages must agree on what the agent acts on: panes, tasks (ids, steps, checks), step
 * ids and click-to-run commands. Throws a LessonFormatError for the first problem.
 */
export function loadLessons(dir: string | readonly string[]): Lesson[] {
  const report = validateLessonDirs(typeof dir === 'string' ? [dir] : dir);
  if (report.problems[0]) fail(report.problems[0]);
  return report.lessons;
}

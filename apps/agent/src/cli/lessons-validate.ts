// `nslab lessons validate [DIR]`: every lesson file under DIR checked without an agent (front
// matter, steps, panes, tasks, click-to-run blocks, the languages agreeing), with every problem
// reported, not only the first (docs/lesson-format.md, "Checking your lessons"). Stable for
// scripts: each problem is a line `file:line: field: reason` on stderr; the last line on stdout
// is the summary, `N lessons, M files: no problems` when there are none; the exit status is 1
// when there is any problem.
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { findAbove } from './where.js';
import { formatProblem, resolveContentDirs, validateLessonDirs } from '@nslab/shared/content';
import type { Env } from './config.js';
import { CliError, UsageError } from './errors.js';
import type { CliOutput } from './io.js';

export interface LessonsValidateCommand {
  kind: 'lessons';
  action: 'validate';
  /** As given on the command line; absent: the default directory (see defaultLessonsDir). */
  dir?: string;
}

export const LESSONS_VALIDATE_SYNOPSIS = 'nslab lessons validate [DIR]';
export const LESSONS_VALIDATE_DETAILS = [
  'validate  check every lesson file under DIR (DIR/en/*.md, DIR/zh/*.md) without an agent:',
  '          front matter, steps, panes, tasks, click-to-run blocks, both languages agreeing.',
  '          Every problem is a line "file:line: field: reason" on stderr; the last line is',
  '          "N lessons, M files: no problems" when there are none (exit 0; 1 on any problem).',
  "          DIR: default NSLAB_CONTENT (several directories, separated by ':'), or the checkout's content/lessons",
].join('\n');

export function parseLessonsValidate(args: string[]): LessonsValidateCommand | 'help' {
  const dirs: string[] = [];
  let optionsDone = false;
  for (const arg of args) {
    if (!optionsDone && arg === '--') optionsDone = true;
    else if (!optionsDone && (arg === '-h' || arg === '--help')) return 'help';
    else if (!optionsDone && arg.startsWith('-') && arg !== '-') {
      throw new UsageError(`lessons validate: unknown option '${arg}' (usage: ${LESSONS_VALIDATE_SYNOPSIS})`);
    } else dirs.push(arg);
  }
  if (dirs.length > 1) throw new UsageError(`lessons validate: unexpected argument '${dirs[1]}' (usage: ${LESSONS_VALIDATE_SYNOPSIS})`);
  if (dirs[0] === '') throw new UsageError('lessons validate: the directory name is empty');
  return dirs[0] === undefined ? { kind: 'lessons', action: 'validate' } : { kind: 'lessons', action: 'validate', dir: dirs[0] };
}

/**
 * The lessons the agent would serve when no DIR is given: NSLAB_CONTENT if set (as the agent
 * reads it: directories separated by ':', the word shipped for the checkout's lessons), else the
 * content/lessons of the checkout nslab runs from, else the first content/lessons at or above the
 * working directory.
 */
export function defaultLessonsDirs(env: Env): string[] {
  const root = findAbove((dir) => existsSync(join(dir, 'content', 'lessons', 'en')));
  const shipped = root ? join(root, 'content', 'lessons') : resolve('content', 'lessons');
  const given = env.NSLAB_CONTENT?.split(':').filter((d) => d.trim());
  return given?.length ? resolveContentDirs(given, shipped) : [shipped];
}

/** The first of defaultLessonsDirs. */
export function defaultLessonsDir(env: Env): string {
  return defaultLessonsDirs(env)[0]!;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function lessonsValidateCommand(stdout: CliOutput, stderr: CliOutput, cmd: LessonsValidateCommand, env: Env = process.env): number {
  const dirs = cmd.dir === undefined ? defaultLessonsDirs(env) : [resolve(cmd.dir)];
  for (const dir of dirs) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new CliError(`lessons validate: ${dir} is not a directory${cmd.dir === undefined ? ' (give DIR, or set NSLAB_CONTENT)' : ''}`);
    }
  }
  const { problems, files } = validateLessonDirs(dirs);
  // File by file (en/ before zh/), each in line order; the validator's order otherwise.
  const sorted = problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => (a.p.file < b.p.file ? -1 : a.p.file > b.p.file ? 1 : a.p.line - b.p.line || a.i - b.i))
    .map(({ p }) => p);
  for (const p of sorted) stderr.write(`${formatProblem(p)}\n`);
  const lessons = new Set(files.map((f) => `${dirname(dirname(f))}/${basename(f, '.md')}`)).size;
  const counts = `${plural(lessons, 'lesson')}, ${plural(files.length, 'file')}`;
  if (!problems.length) {
    stdout.write(`${counts}: no problems\n`);
    return 0;
  }
  stdout.write(`${counts}: ${plural(problems.length, 'problem')} in ${plural(new Set(problems.map((p) => p.file)).size, 'file')}\n`);
  return 1;
}

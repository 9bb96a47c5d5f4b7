// The rules of a lesson file, checked all at once (Node only: it reads the file system). Every
// problem found is reported with its file, line and field, not only the first: `nslab lessons
// validate` prints them all, and the loader (content.ts) throws the first one. One set of rules
// for both; docs/lesson-format.md says what they are.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isMap, isNode, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { LANGS, LessonFrontMatter, PaneSpec, TaskDef, type Lang, type LessonDoc, type LessonStep } from './lesson-format.js';
import { isName } from './names.js';

/** One thing wrong in a lesson file. `line` is 1-based; 0 when there is no line to point at (a missing file or directory). */
export interface LessonProblem {
  file: string;
  line: number;
  field: string;
  reason: string;
}

/** `file:line: field: reason` (`file: field: reason` when there is no line). */
export function formatProblem(p: LessonProblem): string {
  return `${p.file}${p.line > 0 ? `:${p.line}` : ''}: ${p.field}: ${p.reason}`;
}

export interface Lesson {
  id: string;
  order: number;
  docs: Record<Lang, LessonDoc>;
}

/** A ```` ```sh pane=<name> ```` block: the command the Run button types into that pane. */
export interface ClickToRunBlock {
  pane: string;
  /** The block's text, trimmed. */
  command: string;
  /** The line of its opening fence. */
  line: number;
}

export interface CheckedStep extends LessonStep {
  /** The line of its `## Title {#id}` heading. */
  line: number;
  commands: ClickToRunBlock[];
}

/** One file, checked. `doc` is there when its front matter is valid, even if the body has problems. */
export interface CheckedLesson {
  file: string;
  doc: LessonDoc | null;
  steps: CheckedStep[];
  problems: LessonProblem[];
  /** The line of a front-matter field (`['tasks', 1, 'step']`), or of its nearest parent that is there. */
  lineOf(path: readonly PropertyKey[]): number;
}

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/;
const HEADING = /^##\s+(.+?)\s*\{#([a-z][a-z0-9-]*)\}\s*$/;
/** A code fence (CommonMark: up to three spaces, then three or more ` or ~), as the web's Markdown reads it. */
const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const DEEPER_OPEN = /^:::deeper\b/;
const DEEPER_CLOSE = /^:::[ \t]*$/;

/** 1-based line of each offset in `text`. */
function lineCounter(text: string): (offset: number) => number {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

/** Walk a YAML document along `path`; the line of the deepest key or item found. */
function yamlLine(doc: Document, path: readonly PropertyKey[], toLine: (offset: number) => number, fallback: number): number {
  let node: unknown = doc.contents;
  let line = isNode(node) && node.range ? toLine(node.range[0]) : fallback;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(seg));
      if (!pair) break;
      if (isNode(pair.key) && pair.key.range) line = toLine(pair.key.range[0]);
      node = pair.value;
    } else if (isSeq(node)) {
      const item: unknown = node.items[Number(seg)];
      if (!isNode(item)) break;
      if (item.range) line = toLine(item.range[0]);
      node = item;
    } else break;
  }
  return line;
}

const PaneList = z.array(PaneSpec);

/**
 * Check one lesson file's text. `file` is the name used in the problems. Problems come in the
 * order the loader has always reported them: the front matter, its fields, the step headings,
 * the tasks; then the code blocks, then whether each task's step has a command.
 */
export function checkLessonText(text: string, file: string): CheckedLesson {
  const problems: LessonProblem[] = [];
  const add = (line: number, field: string, reason: string) => problems.push({ file, line, field, reason });
  const lineAt = lineCounter(text);
  const m = FRONT_MATTER.exec(text);
  if (!m) {
    add(1, 'front matter', 'the file must start with a --- YAML block ---');
    return { file, doc: null, steps: [], problems, lineOf: () => 1 };
  }

  // The front matter: YAML, then the schema. Its text starts on line 2.
  const fmText = m[1]!;
  const fmStart = text.indexOf('\n') + 1;
  const yaml = parseDocument(fmText, { prettyErrors: false });
  const fmLine = (offset: number) => lineAt(fmStart + offset);
  const lineOf = (path: readonly PropertyKey[]) => yamlLine(yaml, path, fmLine, 2);
  let raw: unknown;
  let fm: LessonFrontMatter | null = null;
  if (yaml.errors.length) {
    for (const err of yaml.errors) add(fmLine(err.pos[0]), 'front matter', `not valid YAML: ${err.message.split('\n')[0]}`);
  } else {
    try {
      raw = yaml.toJS();
    } catch (err) {
      add(2, 'front matter', `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    const parsed = raw === undefined ? null : LessonFrontMatter.safeParse(raw);
    if (parsed?.success) fm = parsed.data;
    for (const issue of parsed?.error?.issues ?? []) {
      const at = issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined ? [...issue.path, issue.keys[0]] : issue.path;
      add(lineOf(at), issue.path.join('.') || 'front matter', issue.message);
    }
  }
  // What can be checked further even when another part of the front matter is wrong.
  const rawFields = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const panesParsed = PaneList.safeParse(rawFields.panes);
  const panes = panesParsed.success ? new Set(panesParsed.data.map((p) => p.name)) : null;
  const rawTasks = Array.isArray(rawFields.tasks) ? (rawFields.tasks as unknown[]) : [];

  // The body: the introduction, then steps, each starting at a `## Title {#id}` line.
  const body = m[2]!;
  const bodyLine = lineAt(text.length - body.length);
  const intro = { lines: [] as string[], numbers: [] as number[] };
  const introText: string[] = [];
  const steps: CheckedStep[] = [];
  const stepLines: { lines: string[]; numbers: number[] }[] = [];
  body.split('\n').forEach((line, i) => {
    const at = bodyLine + i;
    if (line.startsWith('## ')) {
      const h = HEADING.exec(line);
      if (!h) add(at, 'steps', `a step heading needs an id: "## Title {#step-id}", got "${line}"`);
      else if (steps.some((s) => s.id === h[2])) add(at, `steps.${h[2]}`, 'duplicate step id');
      else {
        steps.push({ id: h[2]!, title: h[1]!, markdown: '', line: at, commands: [] });
        stepLines.push({ lines: [], numbers: [] });
        return;
      }
    }
    if (steps.length) steps[steps.length - 1]!.markdown += `${line}\n`;
    else introText.push(line);
    const section = stepLines.at(-1) ?? intro;
    section.lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
    section.numbers.push(at);
  });
  if (!steps.length) add(bodyLine, 'steps', 'a lesson needs at least one "## Title {#id}" step');

  // Tasks: unique ids, an existing step, checks on existing panes, regular expressions that compile.
  const taskIds = new Set<string>();
  const tasks: { task: TaskDef; index: number }[] = [];
  rawTasks.forEach((rawTask, i) => {
    const parsed = TaskDef.safeParse(rawTask);
    if (!parsed.success) return; // the schema's problem, reported above
    const t = parsed.data;
    tasks.push({ task: t, index: i });
    if (taskIds.has(t.id)) add(lineOf(['tasks', i, 'id']), `tasks.${i}.id`, `duplicate task id "${t.id}"`);
    taskIds.add(t.id);
    if (!steps.some((s) => s.id === t.step)) add(lineOf(['tasks', i, 'step']), `tasks.${i}.step`, `no step with id "${t.step}"`);
    t.check.all.forEach((c, j) => {
      for (const [where, pane] of [
        [['pane'], c.pane],
        [['differsFrom', 'pane'], c.differsFrom?.pane],
        [['sameAs', 'pane'], c.sameAs?.pane],
      ] as const) {
        if (panes && pane !== undefined && !panes.has(pane)) {
          const path = ['tasks', i, 'check', 'all', j, ...where];
          add(lineOf(path), path.join('.'), `no pane "${pane}"`);
        }
      }
      if (c.match !== undefined) {
        try {
          new RegExp(c.match);
        } catch {
          add(lineOf(['tasks', i, 'check', 'all', j, 'match']), `tasks.${i}.check.all.${j}.match`, 'not a valid regular expression');
        }
      }
    });
  });

  // Code blocks and `:::deeper` blocks, section by section (the web renders each step on its own).
  const scan = (field: string, { lines, numbers }: { lines: string[]; numbers: number[] }, commands: ClickToRunBlock[]) => {
    let fence: { mark: string; line: number; pane: string | null; text: string[] } | null = null;
    let deeper: number | null = null;
    for (const [i, line] of lines.entries()) {
      const at = numbers[i]!;
      const f = FENCE.exec(line);
      if (fence) {
        if (f && f[1]![0] === fence.mark[0] && f[1]!.length >= fence.mark.length && line.trim() === f[1]) {
          if (fence.pane !== null) {
            const n = commands.length;
            const command = fence.text.join('\n').trim();
            if (!command) add(fence.line, `${field}.commands.${n}`, 'a click-to-run block needs a command');
            commands.push({ pane: fence.pane, command, line: fence.line });
          }
          fence = null;
        } else fence.text.push(line);
      } else if (f) {
        let pane: string | null = null;
        for (const word of f[2]!.trim().split(/\s+/)) {
          if (!word.startsWith('pane=')) continue;
          const name = word.slice(5);
          const n = commands.length;
          if (!isName(name)) add(at, `${field}.commands.${n}.pane`, `"${name}" is not a pane name (a lowercase word)`);
          else {
            if (panes && !panes.has(name)) add(at, `${field}.commands.${n}.pane`, `no pane "${name}"`);
            pane = name;
          }
        }
        fence = { mark: f[1]!, line: at, pane, text: [] };
      } else if (DEEPER_OPEN.test(line)) {
        if (deeper !== null) add(at, field, `a ":::deeper" block inside another one (line ${deeper}); close the first with ":::"`);
        else deeper = at;
      } else if (DEEPER_CLOSE.test(line)) {
        if (deeper === null) add(at, field, '":::" closes no ":::deeper" block');
        deeper = null;
      }
    }
    const end = field === 'intro' ? 'the first step' : 'the next step or the end of the file';
    if (fence) add(fence.line, field, `this code block is not closed before ${end}`);
    if (deeper !== null) add(deeper, field, `":::deeper" has no closing ":::" line before ${end}`);
  };
  scan('intro', intro, []);
  for (const [i, s] of steps.entries()) scan(`steps.${s.id}`, stepLines[i]!, s.commands);

  // A step with a task gives the learner something to run.
  for (const { task, index } of tasks) {
    const step = steps.find((s) => s.id === task.step);
    if (step && !step.commands.length) {
      add(
        lineOf(['tasks', index, 'step']),
        `tasks.${index}.step`,
        `step "${task.step}" has no click-to-run command; a step with a task must give the learner something to run`,
      );
    }
  }

  const doc: LessonDoc | null = fm
    ? { ...fm, file, intro: introText.join('\n').trim(), steps: steps.map(({ id, title, markdown }) => ({ id, title, markdown })) }
    : null;
  return { file, doc, steps, problems, lineOf };
}

const json = (x: unknown) => JSON.stringify(x);

/** Where two lists first differ (an index past the end of one when one is a prefix of the other), or -1. */
function firstDifference(a: readonly unknown[], b: readonly unknown[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (i >= a.length || i >= b.length || json(a[i]) !== json(b[i])) return i;
  return -1;
}

/**
 * The languages must agree on what the agent acts on: order, panes (but their titles), tasks
 * (ids, steps, checks), step ids, and each step's click-to-run commands (panes and text).
 * Problems are reported in `other`, at the first place it differs from `first`.
 */
function compareLanguages(first: CheckedLesson & { doc: LessonDoc }, other: CheckedLesson & { doc: LessonDoc }): LessonProblem[] {
  const problems: LessonProblem[] = [];
  const agree = `differs from ${first.file}; the languages must agree`;
  const add = (line: number, field: string, reason = agree) => problems.push({ file: other.file, line, field, reason });
  const [a, b] = [first.doc, other.doc];
  if (a.order !== b.order) add(other.lineOf(['order']), 'order');
  const panes = (d: LessonDoc) => d.panes.map((p) => ({ ...p, title: undefined }));
  const p = firstDifference(panes(a), panes(b));
  if (p >= 0) add(other.lineOf(['panes', Math.min(p, b.panes.length - 1)]), 'panes');
  const tasks = (d: LessonDoc) => d.tasks.map((t) => [t.id, t.step, t.check]);
  const t = firstDifference(tasks(a), tasks(b));
  if (t >= 0) add(other.lineOf(['tasks', Math.min(t, b.tasks.length - 1)]), 'tasks');
  const s = firstDifference(
    first.steps.map((x) => x.id),
    other.steps.map((x) => x.id),
  );
  if (s >= 0) add(other.steps[Math.min(s, other.steps.length - 1)]?.line ?? 0, 'steps');
  for (const step of other.steps) {
    const theirs = first.steps.find((x) => x.id === step.id);
    if (!theirs) continue; // the step ids differ: said above
    const field = `steps.${step.id}.commands`;
    if (theirs.commands.length !== step.commands.length) {
      add(step.line, field, `${step.commands.length} click-to-run blocks, but ${theirs.commands.length} in ${first.file}; the languages must agree`);
      continue;
    }
    const c = firstDifference(
      theirs.commands.map((x) => [x.pane, x.command]),
      step.commands.map((x) => [x.pane, x.command]),
    );
    if (c >= 0) add(step.commands[c]!.line, `${field}.${c}`, `differs from ${first.file}:${theirs.commands[c]!.line}; the languages must agree`);
  }
  return problems;
}

export interface LessonDirReport {
  /** The lessons with no problem in any language, in course order. */
  lessons: Lesson[];
  /** Every problem, file by file (the directories' languages in order, files by name), then those between languages. */
  problems: LessonProblem[];
  /** Every lesson file read. */
  files: string[];
}

/**
 * Check every lesson under `dir` (dir/<lang>/<id>.md) in every language. Files are named
 * relative to the working directory, as the loader has always named them.
 */
export function validateLessonDir(dir: string): LessonDirReport {
  const shown = (path: string) => relative(process.cwd(), path) || path;
  const problems: LessonProblem[] = [];
  const files: string[] = [];
  const byId = new Map<string, Partial<Record<Lang, CheckedLesson>>>();
  for (const lang of LANGS) {
    const langDir = join(dir, lang);
    if (!existsSync(langDir)) {
      problems.push({ file: shown(langDir), line: 0, field: 'directory', reason: 'missing' });
      continue;
    }
    for (const name of readdirSync(langDir).sort()) {
      if (!name.endsWith('.md')) continue;
      const file = shown(join(langDir, name));
      files.push(file);
      const checked = checkLessonText(readFileSync(join(langDir, name), 'utf8'), file);
      problems.push(...checked.problems);
      const doc = checked.doc;
      if (doc && doc.lang !== lang) {
        problems.push({ file, line: checked.lineOf(['lang']), field: 'lang', reason: `is "${doc.lang}" but the file is under ${lang}/` });
      }
      if (doc && `${doc.id}.md` !== name) problems.push({ file, line: checked.lineOf(['id']), field: 'id', reason: `is "${doc.id}" but the file is ${name}` });
      const id = name.slice(0, -3);
      byId.set(id, { ...byId.get(id), [lang]: checked });
    }
  }

  const lessons: Lesson[] = [];
  for (const [id, byLang] of byId) {
    const missing = LANGS.filter((l) => !byLang[l]);
    for (const lang of missing) {
      problems.push({ file: shown(join(dir, lang, `${id}.md`)), line: 0, field: 'file', reason: `lesson "${id}" has no ${lang} version` });
    }
    if (missing.length) continue;
    const all = LANGS.map((l) => byLang[l]!);
    if (!all.every((c): c is CheckedLesson & { doc: LessonDoc } => c.doc !== null)) continue; // not comparable; said above
    const [first, ...others] = all;
    const between = others.flatMap((o) => compareLanguages(first!, o));
    problems.push(...between);
    if (!problems.some((p) => all.some((c) => c.file === p.file))) {
      lessons.push({ id, order: first!.doc.order, docs: Object.fromEntries(LANGS.map((l, i) => [l, all[i]!.doc])) as Record<Lang, LessonDoc> });
    }
  }
  lessons.sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
  return { lessons, problems, files };
}

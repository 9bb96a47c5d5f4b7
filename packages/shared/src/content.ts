// Loading lesson files from disk (Node only: the web app's server side, the agent, the build).
// A malformed file is an error that names the file and the field.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { LANGS, LessonFrontMatter, type Lang, type LessonDoc, type LessonStep } from './lesson-format.js';

export class LessonFormatError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    problem: string,
  ) {
    super(`${file}: ${field}: ${problem}`);
    this.name = 'LessonFormatError';
  }
}

const HEADING = /^##\s+(.+?)\s*\{#([a-z][a-z0-9-]*)\}\s*$/;

export function parseLesson(text: string, file: string): LessonDoc {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/.exec(text);
  if (!m) throw new LessonFormatError(file, 'front matter', 'the file must start with a --- YAML block ---');
  let raw: unknown;
  try {
    raw = parseYaml(m[1]!);
  } catch (err) {
    throw new LessonFormatError(file, 'front matter', `not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = LessonFrontMatter.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new LessonFormatError(file, issue.path.join('.') || 'front matter', issue.message);
  }
  const fm = parsed.data;
  const intro: string[] = [];
  const steps: LessonStep[] = [];
  for (const line of m[2]!.split('\n')) {
    if (line.startsWith('## ')) {
      const h = HEADING.exec(line);
      if (!h) throw new LessonFormatError(file, 'steps', `a step heading needs an id: "## Title {#step-id}", got "${line}"`);
      if (steps.some((s) => s.id === h[2])) throw new LessonFormatError(file, `steps.${h[2]}`, 'duplicate step id');
      steps.push({ id: h[2]!, title: h[1]!, markdown: '' });
    } else if (steps.length) steps[steps.length - 1]!.markdown += line + '\n';
    else intro.push(line);
  }
  if (!steps.length) throw new LessonFormatError(file, 'steps', 'a lesson needs at least one "## Title {#id}" step');
  const taskIds = new Set<string>();
  fm.tasks.forEach((t, i) => {
    if (taskIds.has(t.id)) throw new LessonFormatError(file, `tasks.${i}.id`, `duplicate task id "${t.id}"`);
    taskIds.add(t.id);
    if (!steps.some((s) => s.id === t.step)) throw new LessonFormatError(file, `tasks.${i}.step`, `no step with id "${t.step}"`);
    const panes = new Set(fm.panes.map((p) => p.name));
    t.check.all.forEach((c, j) => {
      for (const [where, pane] of [
        ['pane', c.pane],
        ['differsFrom.pane', c.differsFrom?.pane],
        ['sameAs.pane', c.sameAs?.pane],
      ] as const) {
        if (pane !== undefined && !panes.has(pane)) throw new LessonFormatError(file, `tasks.${i}.check.all.${j}.${where}`, `no pane "${pane}"`);
      }
      if (c.match !== undefined) {
        try {
          new RegExp(c.match);
        } catch {
          throw new LessonFormatError(file, `tasks.${i}.check.all.${j}.match`, 'not a valid regular expression');
        }
      }
    });
  });
  return { ...fm, file, intro: intro.join('\n').trim(), steps };
}

export interface Lesson {
  id: string;
  order: number;
  docs: Record<Lang, LessonDoc>;
}

const json = (x: unknown) => JSON.stringify(x);

/**
 * Every lesson under `dir` (dir/<lang>/<id>.md), each in every language. The languages must
 * agree on what the agent acts on: panes, tasks (ids, steps, checks) and step ids.
 */
export function loadLessons(dir: string): Lesson[] {
  const byId = new Map<string, Partial<Record<Lang, LessonDoc>>>();
  for (const lang of LANGS) {
    const langDir = join(dir, lang);
    if (!existsSync(langDir)) throw new LessonFormatError(relative(process.cwd(), langDir), 'directory', 'missing');
    for (const name of readdirSync(langDir).sort()) {
      if (!name.endsWith('.md')) continue;
      const file = join(langDir, name);
      const shown = relative(process.cwd(), file) || file;
      const doc = parseLesson(readFileSync(file, 'utf8'), shown);
      if (doc.lang !== lang) throw new LessonFormatError(shown, 'lang', `is "${doc.lang}" but the file is under ${lang}/`);
      if (`${doc.id}.md` !== name) throw new LessonFormatError(shown, 'id', `is "${doc.id}" but the file is ${name}`);
      const entry = byId.get(doc.id) ?? {};
      entry[lang] = doc;
      byId.set(doc.id, entry);
    }
  }
  const lessons: Lesson[] = [];
  for (const [id, docs] of byId) {
    for (const lang of LANGS) {
      if (!docs[lang]) throw new LessonFormatError(join(dir, lang, `${id}.md`), 'file', `lesson "${id}" has no ${lang} version`);
    }
    const [first, ...others] = LANGS.map((l) => docs[l]!);
    for (const other of others) {
      const same = (field: string, a: unknown, b: unknown) => {
        if (json(a) !== json(b)) throw new LessonFormatError(other.file, field, `differs from ${first!.file}; the languages must agree`);
      };
      same('order', first!.order, other.order);
      same(
        'panes',
        first!.panes.map((p) => ({ ...p, title: undefined })),
        other.panes.map((p) => ({ ...p, title: undefined })),
      );
      same(
        'tasks',
        first!.tasks.map((t) => [t.id, t.step, t.check]),
        other.tasks.map((t) => [t.id, t.step, t.check]),
      );
      same(
        'steps',
        first!.steps.map((s) => s.id),
        other.steps.map((s) => s.id),
      );
    }
    lessons.push({ id, order: first!.order, docs: docs as Record<Lang, LessonDoc> });
  }
  return lessons.sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
}

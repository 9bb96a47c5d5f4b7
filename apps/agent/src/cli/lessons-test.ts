// `nslab lessons test [IDS...] [--lang en|zh|all] [--dir DIR] [--agent] [--runs N]`: every lesson
// followed as a learner would, against a real agent (docs/lesson-format.md, "Testing your
// lessons"). For each lesson and language, a fresh lab; for each step in order, its tasks must be
// pending before it (a check that already passes cannot fail), its click-to-run commands are
// typed into their panes through the terminal (not exec), and its tasks must turn done within a
// bound. Each lesson runs twice. A table of lessons, steps and times; the last screen of a
// failed step's panes; the last line `N passed, M failed` (stable: scripts read it).
//
// Against a running agent (NSLAB_URL), the lessons in DIR must be the ones it serves; `--agent`
// starts an agent of its own on DIR (a trainer's CI: `npx nslab lessons test --agent --dir my-lessons`).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs as parseFlags } from 'node:util';
import { FRAME_OUTPUT, FRAME_SNAPSHOT, LabInfo, RESULTS, clickToRun, decodeSnapshot, hasPrompt, isName, stripEscapes, type TaskStatus } from '@nslab/shared';
import { loadLessons, type Lesson } from '@nslab/shared/content';
import type { LessonDoc } from '@nslab/shared';
import type { AgentClient } from './client.js';
import { CliError, UsageError } from './errors.js';
import type { CliOutput } from './io.js';
import type { Env } from './config.js';
import { formatTable, parseReply } from './commands.js';
import { defaultLessonsDir, defaultLessonsDirs } from './lessons-validate.js';
import { checkoutRoot } from './where.js';

export interface LessonsTestCommand {
  kind: 'lessons';
  action: 'test';
  ids: string[];
  lang: 'en' | 'zh' | 'all';
  dir: string | null;
  agent: boolean;
  runs: number;
}

export const LESSONS_TEST_SYNOPSIS = 'nslab lessons test [ids...] [--lang en|zh|all] [--dir DIR] [--agent] [--runs N]';

/** How long a typed command may take to give the prompt back, and a task to turn done after its step. */
const COMMAND_MS = 30_000;
const DONE_MS = 10_000;
const PROMPT_MS = 20_000;

export function parseLessonsTest(args: string[]): LessonsTestCommand | 'help' {
  let p: ReturnType<typeof parseFlags>;
  try {
    p = parseFlags({
      args,
      allowPositionals: true,
      strict: true,
      options: { lang: { type: 'string' }, dir: { type: 'string' }, agent: { type: 'boolean' }, runs: { type: 'string' }, help: { type: 'boolean' } },
    });
  } catch (err) {
    throw new UsageError(`lessons test: ${(err as Error).message.split('\n')[0]} (usage: ${LESSONS_TEST_SYNOPSIS})`);
  }
  const v = p.values as Record<string, string | boolean | undefined>;
  if (v.help) return 'help';
  const lang = (v.lang as string | undefined) ?? 'all';
  if (lang !== 'en' && lang !== 'zh' && lang !== 'all') throw new UsageError(`lessons test: --lang is en, zh or all, not '${lang}'`);
  for (const id of p.positionals) if (!isName(id)) throw new UsageError(`lessons test: '${id}' is not a lesson id`);
  const runs = v.runs === undefined ? 2 : Number(v.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 10) throw new UsageError('lessons test: --runs is a whole number from 1 to 10');
  return { kind: 'lessons', action: 'test', ids: p.positionals, lang, dir: typeof v.dir === 'string' ? resolve(v.dir) : null, agent: v.agent === true, runs };
}

/** The lessons' directory: --dir, else what `lessons validate` takes (NSLAB_CONTENT, or the checkout's). */
export function lessonsDir(dir: string | null, env: Env): string {
  return dir ?? defaultLessonsDir(env);
}

/** The lessons' directories: --dir, else what `lessons validate` takes (NSLAB_CONTENT's, or the checkout's). */
export function lessonsDirs(dir: string | null, env: Env): string[] {
  return dir ? [dir] : defaultLessonsDirs(env);
}

/** A bundle of the agent (apps/agent/dist/<name>) of the checkout the CLI runs from. */
function locateBundle(name: string): string {
  return join(checkoutRoot() ?? process.cwd(), 'apps', 'agent', 'dist', name);
}

interface StepResult {
  lesson: string;
  lang: string;
  run: number;
  step: string;
  ok: boolean;
  ms: number;
  why?: string;
  screens?: Record<string, string>;
}

/** One pane as the test reads it: its text (escapes removed), acknowledged as it arrives. */
class PaneReader {
  text = '';
  constructor(
    readonly name: string,
    private readonly client: AgentClient,
    private readonly lab: string,
  ) {}

  take(op: number, offset: number, payload: Uint8Array): void {
    let bytes: Uint8Array | undefined;
    if (op === FRAME_SNAPSHOT) bytes = decodeSnapshot(payload)?.screen;
    else if (op === FRAME_OUTPUT) bytes = payload;
    if (!bytes?.length) return;
    this.text = (this.text + Buffer.from(bytes).toString('utf8')).slice(-65536);
    if (op === FRAME_OUTPUT) this.client.notify({ type: 'ack', lab: this.lab, pane: this.name, offset: offset + payload.length });
  }

  /** The last lines, as a person would read them. */
  screen(lines = 20): string {
    return stripEscapes(this.text).replace(/\r/g, '').split('\n').slice(-lines).join('\n');
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(what: string, fn: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`${what}: nothing within ${ms / 1000} s`);
    await sleep(25);
  }
}

let marks = 0;

/** Follow one lesson in one language in a fresh lab; a result per step. */
async function followLesson(client: AgentClient, doc: LessonDoc, run: number): Promise<StepResult[]> {
  const lab = parseReply(LabInfo, await client.request({ type: 'open', lesson: doc.id }, { timeoutMs: 60_000 }), 'open');
  const panes = new Map(doc.panes.map((p) => [p.name, new PaneReader(p.name, client, lab.id)]));
  const off = client.onFrame((f) => {
    const [id, pane] = f.key.split('/');
    if (id === lab.id) panes.get(pane ?? '')?.take(f.op, f.offset, f.payload);
  });
  const results: StepResult[] = [];
  const base = { lesson: doc.id, lang: doc.lang, run };
  try {
    await client.request({ type: 'watch', lab: lab.id });
    for (const p of panes.values()) await client.request({ type: 'attach', lab: lab.id, pane: p.name, cols: 120, rows: 40 });
    for (const p of panes.values()) await until(`the prompt in ${p.name}`, () => hasPrompt(p.text), PROMPT_MS);
    // The agent's checks of the lab: until its first round is in, it has no status for a task yet.
    const all = doc.tasks.map((t) => t.id);
    const check = async (): Promise<TaskStatus[]> => {
      const deadline = Date.now() + DONE_MS;
      for (;;) {
        const tasks = parseReply(RESULTS.check, await client.request({ type: 'check', lab: lab.id }), 'check').tasks;
        if (all.every((id) => tasks.some((t) => t.id === id))) return tasks;
        if (Date.now() > deadline) throw new Error(`the agent reports no status for ${all.filter((id) => !tasks.some((t) => t.id === id)).join(', ')}`);
        await sleep(100);
      }
    };
    for (const step of doc.steps) {
      const t0 = performance.now();
      const tasks = doc.tasks.filter((t) => t.step === step.id).map((t) => t.id);
      const screens = () => Object.fromEntries([...panes.values()].map((p) => [p.name, p.screen()]));
      try {
        const before = (await check()).filter((s) => tasks.includes(s.id));
        const early = before.find((s) => s.status === 'done');
        if (early) throw new Error(`task ${early.id} is done before its step: a check that already passes cannot fail (check it on what the step changes)`);
        // A task once done stays done in the lab: a later command of the step (a `kill`) may undo
        // its state, so the checks run after every command.
        const done = new Set<string>();
        const note = async () => {
          for (const s of await check()) if (tasks.includes(s.id) && s.status === 'done') done.add(s.id);
        };
        for (const { pane, command } of clickToRun(step.markdown)) {
          const reader = panes.get(pane);
          if (!reader) throw new Error(`a command is for pane ${pane}, which the lesson does not have`);
          const mark = ++marks;
          const from = reader.text.length;
          // `echo` is a builtin: the marker forks nothing, so it leaves alone the PIDs a lesson talks about.
          if (!client.notify({ type: 'input', lab: lab.id, pane, data: `${command}\necho D""${mark}ONE\n` }))
            throw new Error('the connection to the agent is gone');
          // Anywhere on a line: a background program's stderr may land just before it (seen: the
          // `unshare --fork` of a killed sibling). Only the output has it whole: as typed it is D""nONE.
          const re = new RegExp(`D${mark}ONE`);
          await until(
            `\`${command.split('\n')[0]}\` in ${pane}`,
            () => re.test(stripEscapes(reader.text.slice(Math.max(0, from - 16))).replace(/\r/g, '')),
            COMMAND_MS,
          ).catch(() => {
            throw new Error(`\`${command.split('\n')[0]}\` in ${pane} did not give the prompt back within ${COMMAND_MS / 1000} s`);
          });
          await note();
        }
        let last: TaskStatus[] = [];
        const deadline = Date.now() + DONE_MS;
        for (;;) {
          last = (await check()).filter((s) => tasks.includes(s.id) && !done.has(s.id));
          for (const s of last) if (s.status === 'done') done.add(s.id);
          if (tasks.every((t) => done.has(t))) break;
          if (Date.now() > deadline) {
            const pending = last.filter((s) => s.status !== 'done');
            throw new Error(pending.map((s) => `task ${s.id} is not done after its step${s.detail ? `: ${s.detail}` : ''}`).join('; '));
          }
          await sleep(200);
        }
        results.push({ ...base, step: step.id, ok: true, ms: performance.now() - t0 });
      } catch (err) {
        results.push({ ...base, step: step.id, ok: false, ms: performance.now() - t0, why: (err as Error).message, screens: screens() });
        break; // the next steps build on this one
      }
    }
  } finally {
    off();
    await client.request({ type: 'close', lab: lab.id }).catch(() => {});
  }
  return results;
}

/** A free TCP port on 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** An agent of this command's own, on `dir`, in its own instance, id range and directories; stopped after. */
async function ownAgent(dir: string, env: Env): Promise<{ url: string; token: string; stop: () => Promise<void> }> {
  const main = locateBundle('main.cjs');
  if (!existsSync(main)) throw new CliError(`--agent needs the built agent (${main}); run npm run build in the nslab checkout`);
  const root = mkdtempSync(join(tmpdir(), 'nslab-lessons-test-'));
  const port = await freePort();
  const token = randomBytes(18).toString('base64url');
  const instance = `nslablt${process.pid % 100000}`;
  const child: ChildProcess = spawn(process.execPath, ['--require', locateBundle('bench-deathsig.cjs'), main], {
    env: {
      ...env,
      NSLAB_HARNESS_PID: String(process.pid),
      NSLAB_INSTANCE: instance,
      NSLAB_STATE_DIR: `/run/${instance}`,
      NSLAB_DATA_DIR: join(root, 'data'),
      NSLAB_CONTENT: dir,
      NSLAB_ID_BASE: env.NSLAB_LESSONS_TEST_ID_BASE ?? '600000000',
      NSLAB_MAX_LABS: '8',
      NSLAB_WARM_LABS: '0',
      NSLAB_WARM_PER_LESSON: '0',
      NSLAB_WEB: '0',
      NSLAB_TOKEN: token,
      NSLAB_DATABASE_URL: '',
      NSLAB_CONFIG: '',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    } as unknown as NodeJS.ProcessEnv,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(20_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    rmSync(root, { recursive: true, force: true });
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new CliError(`the agent this command started exited (${child.exitCode}): ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
    }
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, token, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new CliError('the agent this command started did not answer within 60 s');
    }
    await sleep(100);
  }
}

export async function lessonsTestCommand(
  cmd: LessonsTestCommand,
  io: { stdout: CliOutput; stderr: CliOutput; env: Env },
  connect: (url: string, token: string | null) => Promise<AgentClient>,
): Promise<number> {
  const dirs = lessonsDirs(cmd.dir, io.env);
  const dir = dirs.join(':');
  let lessons: Lesson[];
  try {
    lessons = loadLessons(dirs);
  } catch (err) {
    throw new CliError(`the lessons in ${dir} do not load: ${(err as Error).message} (nslab lessons validate ${dir} lists every problem)`);
  }
  const unknown = cmd.ids.filter((id) => !lessons.some((l) => l.id === id));
  if (unknown.length) throw new CliError(`no lesson ${unknown.join(', ')} in ${dir} (there are ${lessons.map((l) => l.id).join(', ')})`);
  const chosen = cmd.ids.length ? lessons.filter((l) => cmd.ids.includes(l.id)) : lessons;
  const langs = cmd.lang === 'all' ? (['en', 'zh'] as const) : [cmd.lang];

  const own = cmd.agent ? await ownAgent(dir, io.env) : null;
  let client: AgentClient | null = null;
  try {
    client = await connect(own?.url ?? '', own?.token ?? null);
    const results: StepResult[] = [];
    let passed = 0;
    let failed = 0;
    // A lesson in a language passes when every one of its runs does.
    for (const lesson of chosen) {
      for (const lang of langs) {
        let all = true;
        for (let run = 1; run <= cmd.runs; run++) {
          const doc = lesson.docs[lang];
          let rs: StepResult[];
          try {
            rs = await followLesson(client, doc, run);
          } catch (err) {
            rs = [{ lesson: lesson.id, lang, run, step: '(lab)', ok: false, ms: 0, why: (err as Error).message }];
          }
          results.push(...rs);
          const ok = rs.length === doc.steps.length && rs.every((r) => r.ok);
          all &&= ok;
          io.stderr.write(`${ok ? 'ok  ' : 'FAIL'} ${lesson.id} (${lang}) run ${run}\n`);
        }
        if (all) passed++;
        else failed++;
      }
    }
    io.stdout.write(
      formatTable([
        ['LESSON', 'LANG', 'RUN', 'STEP', 'RESULT', 'TIME'],
        ...results.map((r) => [r.lesson, r.lang, String(r.run), r.step, r.ok ? 'ok' : 'FAILED', `${Math.round(r.ms)} ms`]),
      ]),
    );
    for (const r of results.filter((x) => !x.ok)) {
      io.stdout.write(`\n${r.lesson} (${r.lang}) run ${r.run}, step ${r.step}: ${r.why}\n`);
      for (const [pane, screen] of Object.entries(r.screens ?? {})) io.stdout.write(`--- the last screen of ${pane} ---\n${screen}\n`);
    }
    io.stdout.write(`${passed} passed, ${failed} failed\n`);
    return failed > 0 ? 1 : 0;
  } finally {
    await client?.close();
    await own?.stop();
  }
}

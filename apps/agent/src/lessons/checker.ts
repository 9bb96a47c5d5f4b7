// Running a lesson's task checks in a lab: each condition is a shell command run (through exec)
// in a pane's namespaces; a task is done when all its conditions hold.
import type { CheckCondition, TaskDef, TaskStatus } from '@nslab/shared';
import type { LessonLab } from './view.js';

// biome-ignore lint/suspicious/noExplicitAny: a registry of labs of every lesson's own type
type Lab = LessonLab<any>;

const CHECK_TIMEOUT_MS = 5000;
/** A check compares short outputs; anything longer is cut (and the command's pipe closed). */
const CHECK_MAX_OUTPUT = 64 * 1024;

async function output(lab: Lab, paneName: string, run: string): Promise<{ code: number | null; stdout: string } | string> {
  const pane = lab.pane(paneName);
  if (!pane) return `no pane ${paneName}`;
  if (!pane.running) return `pane ${paneName} is not running`;
  const r = await lab.exec(pane, ['/bin/sh', '-c', run], { timeoutMs: CHECK_TIMEOUT_MS, maxOutput: CHECK_MAX_OUTPUT });
  return { code: r.exitCode, stdout: Buffer.from(r.stdout, 'base64').toString().trim() };
}

/** Why the condition does not hold, or null when it does. */
async function failing(lab: Lab, c: CheckCondition): Promise<string | null> {
  const r = await output(lab, c.pane, c.run);
  if (typeof r === 'string') return r;
  if (r.code !== (c.exitCode ?? 0)) return `${c.pane}: \`${c.run}\` exited ${r.code ?? 'by a signal'}`;
  if (c.stdout !== undefined && r.stdout !== c.stdout) return `${c.pane}: \`${c.run}\` printed "${r.stdout.slice(0, 80)}"`;
  if (c.stdoutNot !== undefined && r.stdout === c.stdoutNot) return `${c.pane}: \`${c.run}\` printed "${r.stdout.slice(0, 80)}"`;
  if (c.match !== undefined && !new RegExp(c.match).test(r.stdout)) return `${c.pane}: \`${c.run}\` does not match`;
  for (const [other, wantSame] of [
    [c.differsFrom, false],
    [c.sameAs, true],
  ] as const) {
    if (!other) continue;
    const o = await output(lab, other.pane, other.run);
    if (typeof o === 'string') return o;
    if ((o.stdout === r.stdout) !== wantSame) return `${c.pane} and ${other.pane} ${wantSame ? 'differ' : 'agree'}`;
  }
  return null;
}

export async function checkTask(lab: Lab, task: TaskDef): Promise<TaskStatus> {
  for (const c of task.check.all) {
    let why: string | null;
    try {
      why = await failing(lab, c);
    } catch (err) {
      why = (err as Error).message;
    }
    if (why) return { id: task.id, status: 'pending', detail: why };
  }
  return { id: task.id, status: 'done' };
}

/** Every task's status, in order; the tasks are checked side by side (their conditions in turn). */
export function checkTasks(lab: Lab, tasks: TaskDef[]): Promise<TaskStatus[]> {
  return Promise.all(tasks.map((t) => checkTask(lab, t)));
}

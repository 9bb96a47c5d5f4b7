// The shipped lessons' task checks, against real labs: none may be done before the learner acts
// (a check that is already true teaches nothing and cannot fail), and every one is done once the
// learner has typed the lesson's own commands, step by step, into its panes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadLessons, type Lesson } from '@nslab/shared/content';
import { clickToRun, type TaskStatus } from '@nslab/shared';
import { checkTasks } from '../../apps/agent/src/lessons/checker.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';
import type { Lab } from '../../apps/agent/src/sandbox/lab.ts';
import { typeAndWait, useTestAgent, waitForPrompt } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';

const skip = rootOrSkip();

const useAgent = useTestAgent(skip);

const LESSONS: Lesson[] = loadLessons(join(REPO_ROOT, 'content/lessons'));

const commands = clickToRun;

test('both languages of a lesson give the same commands, for the same panes, in the same steps', () => {
  for (const lesson of LESSONS) {
    const [en, zh] = [lesson.docs.en, lesson.docs.zh];
    for (const [i, step] of en.steps.entries()) {
      assert.deepEqual(commands(zh.steps[i]!.markdown), commands(step.markdown), `${lesson.id}/${step.id}: the commands differ between en and zh`);
    }
  }
});

test('every task of every lesson is pending in a fresh lab, with a reason', { skip }, async () => {
  for (const entry of useAgent().manager.catalogue.list()) {
    const lab = await useAgent().manager.open(entry.def.id);
    const statuses = await checkTasks(lab, entry.tasks);
    for (const s of statuses) {
      assert.equal(s.status, 'pending', `${entry.def.id}/${s.id} is done before the learner did anything`);
      assert.ok(s.detail && s.detail.length > 0, `${entry.def.id}/${s.id} says why it is pending`);
    }
    await useAgent().manager.close(lab.id);
  }
});

/** Type a command into a pane's shell as a learner does, and wait until the shell is back. */
let marks = 0;
async function type(lab: Lab, pane: string, command: string): Promise<string> {
  const p = lab.pane(pane);
  assert.ok(p, `no pane ${pane}`);
  const mark = ++marks;
  // `echo` is a shell builtin: the marker forks nothing, so it leaves the PIDs the lesson talks about alone.
  return typeAndWait(p, `${command}\necho D""${mark}ONE\n`, new RegExp(`^D${mark}ONE`, 'm'), 30_000);
}

test('following a lesson literally makes each task done in its step, and no task is done before its step', { skip }, async (t) => {
  for (const lesson of LESSONS) {
    await t.test(lesson.id, async () => {
      const doc = lesson.docs.en;
      const lab = await useAgent().manager.open(lesson.id);
      try {
        for (const p of doc.panes) await waitForPrompt(lab.pane(p.name)!, 15_000);
        const screens: string[] = [];
        for (const step of doc.steps) {
          const tasks = doc.tasks.filter((x) => x.step === step.id);
          const before = await checkTasks(lab, tasks);
          for (const s of before) assert.equal(s.status, 'pending', `${lesson.id}/${s.id} is done before its step "${step.id}"`);
          // The agent keeps a task done once it was: a later command of the step (a `kill`, say) may undo its state.
          const done = new Set<string>();
          const last = new Map<string, TaskStatus>();
          const note = async () => {
            for (const s of await checkTasks(
              lab,
              tasks.filter((x) => !done.has(x.id)),
            )) {
              last.set(s.id, s);
              if (s.status === 'done') done.add(s.id);
            }
          };
          for (const { pane, command } of commands(step.markdown)) {
            screens.push(`[${pane}] ${await type(lab, pane, command)}`);
            if (tasks.length) await note();
          }
          // A background process may still be starting: give the checks a moment more.
          for (let i = 0; i < 10 && done.size < tasks.length; i++) {
            await new Promise((r) => setTimeout(r, 300));
            await note();
          }
          for (const x of tasks) {
            assert.ok(done.has(x.id), `${lesson.id}/${x.id} is not done after step "${step.id}": ${last.get(x.id)?.detail}\n${screens.slice(-12).join('\n')}`);
          }
        }
      } finally {
        await useAgent().manager.close(lab.id);
      }
    });
  }
});

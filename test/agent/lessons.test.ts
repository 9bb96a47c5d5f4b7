// The shipped lessons' task checks, against real labs: none may be done before the learner acts
// (a check that is already true teaches nothing and cannot fail).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningAgent } from '../../apps/agent/src/server/agent.ts';
import { checkTasks } from '../../apps/agent/src/lessons/checker.ts';
import { startTestAgent } from '../helpers/agent.ts';
import { IS_ROOT, IN_CI } from '../helpers/env.ts';

if (!IS_ROOT && IN_CI) throw new Error('these tests need root, and CI=true forbids skipping them');
const skip = IS_ROOT ? false : 'needs root';

let agent: RunningAgent;
before(async () => {
  if (!skip) agent = await startTestAgent();
});
after(async () => {
  if (!skip) await agent.close();
});

test('every task of every lesson is pending in a fresh lab, with a reason', { skip }, async () => {
  for (const entry of agent.manager.catalogue.list()) {
    const lab = await agent.manager.open(entry.def.id);
    const statuses = await checkTasks(lab, entry.tasks);
    for (const s of statuses) {
      assert.equal(s.status, 'pending', `${entry.def.id}/${s.id} is done before the learner did anything`);
      assert.ok(s.detail && s.detail.length > 0, `${entry.def.id}/${s.id} says why it is pending`);
    }
    await agent.manager.close(lab.id);
  }
});

// The shipped lessons' task checks, against real labs: none may be done before the learner acts
// (a check that is already true teaches nothing and cannot fail).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTasks } from '../../apps/agent/src/lessons/checker.ts';
import { useTestAgent } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';

const skip = rootOrSkip();

const useAgent = useTestAgent(skip);

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

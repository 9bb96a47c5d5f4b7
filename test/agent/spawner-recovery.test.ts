// The spawner dies (a bug, the OOM killer, an operator's kill): its labs are closed and told, and
// a new spawner starts. One that keeps dying is not given up on: after a pause the agent starts
// it again, so a burst of deaths costs minutes of labs at most, never the agent's life.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sideAgent, run } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';
import { waitFor } from '../helpers/wait.ts';

const skip = rootOrSkip('the spawner recovery tests');

test('a spawner killed four times within a minute is started again after a pause, and labs open again', { skip }, async () => {
  const agent = await sideAgent(9, { maxLabs: 4 });
  try {
    const lab = await agent.manager.open('uts');
    const closed = new Promise<string>((r) => agent.manager.once('closed', (_lab, reason) => r(reason)));
    const seen = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const pid = await waitFor(`spawner ${i + 1} is running`, () => agent.manager.spawner.pid, 10_000);
      assert.ok(!seen.has(pid), 'a new spawner each time');
      seen.add(pid);
      // Killed once it answers (a spawner killed while it starts is a failed start, not a death).
      await waitFor(
        `spawner ${i + 1} answers`,
        () =>
          agent.manager.spawner.forget([]).then(
            () => true,
            () => false,
          ),
        10_000,
      );
      process.kill(pid, 'SIGKILL');
      await waitFor(`spawner ${i + 1} is seen dead`, () => agent.manager.spawner.pid !== pid || undefined, 10_000);
    }
    // Right after the fourth death: no spawner, for the pause.
    assert.equal(agent.manager.spawner.pid, undefined, 'no spawner during the pause');
    await assert.rejects(agent.manager.open('uts'), /spawner/, 'opening says the spawner is not running');
    const health = await fetch(`${agent.url}/healthz`);
    assert.equal(health.status, 503, '/healthz says labs cannot be made');
    await health.arrayBuffer();
    assert.equal(await closed, 'the spawner died', "the lab's clients are told why");
    assert.equal(lab.state, 'closed');
    // After the pause (5 s), a fifth spawner, and labs again.
    const fifth = await waitFor('a spawner starts again after the pause', () => agent.manager.spawner.pid, 20_000);
    assert.ok(!seen.has(fifth));
    const again = await agent.manager.open('uts');
    const out = await run(again, 'container', 'echo back');
    assert.equal(out.out, 'back\n');
    assert.equal((await fetch(`${agent.url}/healthz`)).status, 200);
  } finally {
    await agent.close();
  }
});

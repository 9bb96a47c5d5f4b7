// A minute of simulated learners and chaos against a real agent (the bundled one, as `npm start`
// runs it, in its own process): no stall, no byte lost or repeated, every fault told to whoever
// it hit, nothing left on the host after the agent stops. The harness is the one `npm run soak`
// runs (apps/agent/src/bench/soak); its table is printed whatever the outcome.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { locateBundle } from '../../apps/agent/src/paths.ts';
import { formatReport, runSoak, SOAK_DEFAULTS } from '../../apps/agent/src/bench/soak/run.ts';
import { TEST_ID_BASE, TEST_INSTANCE } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';

const skip = rootOrSkip('the soak');

test('60 s of learners and chaos: no stall, no lost byte, every fault told, nothing left behind', { skip, timeout: 8 * 60_000 }, async () => {
  for (const b of ['main.cjs', 'spawner.cjs', 'bench-deathsig.cjs']) {
    assert.ok(existsSync(locateBundle(b)), `${locateBundle(b)} is missing: run \`node scripts/prepare.mjs --no-web\` (npm test does)`);
  }
  const seed = Number(process.env.NSLAB_SOAK_SEED) || Math.floor(Math.random() * 2 ** 31);
  const report = await runSoak({
    ...SOAK_DEFAULTS,
    seconds: 60,
    // An instance and an id range of its own, after those of the other tests' side agents.
    instance: `${TEST_INSTANCE}-soak`,
    idBase: TEST_ID_BASE + 256 * 65536,
    seed,
    say: (m) => process.stderr.write(`${m}\n`),
  });
  process.stderr.write(`${formatReport(report)}\n`);
  assert.deepEqual(report.problems, [], `soak (seed ${seed}) found problems`);
  // It did something: rounds of every kind the learners choose most, and faults.
  assert.ok(report.stats.roundsTotal >= 20, `only ${report.stats.roundsTotal} rounds`);
  assert.ok(report.stats.seq.strict + report.stats.seq.resynced >= 1, 'no seq run was checked');
  assert.ok([...report.stats.chaos.values()].reduce((n, c) => n + c.done, 0) >= 3, 'the chaos did almost nothing');
});

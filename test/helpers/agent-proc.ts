// A throwaway agent in its own process, for tests that kill it: opens one lab, prints what it
// made as one JSON line, then waits to be killed.
import { startAgent } from '../../apps/agent/src/server/agent.ts';
import { testConfig } from './agent.ts';

const instance = process.argv[2] ?? 'nslabkill';
const agent = await startAgent(testConfig({ instance, stateDir: `/run/${instance}`, idBase: 210_000_000, warmLabs: 1 }), { quiet: true });
// Wait for the warm lab too: it must die with the agent like the others.
while (agent.manager.warmCount < 1) await new Promise((r) => setTimeout(r, 10));
const lab = await agent.manager.open('pid');
// Something for the learner to leave running: a background job in the host pane.
lab.pane('host')!.write('sleep 1000 &\n');
await new Promise((r) => setTimeout(r, 300));
process.stdout.write(
  JSON.stringify({
    agentPid: process.pid,
    spawnerPid: agent.manager.spawner.pid,
    uidBase: lab.uidBase,
    pids: [lab.anchorPid, lab.initPid, ...[...lab.panes.values()].map((p) => p.pid)],
    cgroups: lab.cgroup?.paths ?? [],
    stageDir: lab.stageDir,
  }) + '\n',
);
setInterval(() => {}, 1000);

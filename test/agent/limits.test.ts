// Limits and lifetimes, and what happens when things go wrong inside a lab: idle and maximum
// lifetimes with a warning first, a fork bomb, a memory hog and a disk filler that stay in their
// lab (with a notice that says why), a lab whose PID 1 dies, a syscall that fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { useTestAgent, sideAgent, run, typeAndWait, waitForPrompt } from '../helpers/agent.ts';
import { TestClient } from '../helpers/ws.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { rootOrSkip } from '../helpers/env.ts';
import type { Lab } from '../../apps/agent/src/sandbox/lab.ts';

const skip = rootOrSkip();
const useAgent = useTestAgent(skip, { limits: { memoryMb: 96, pids: 64, cpuPercent: 100, rootSizeMb: 32, tmpSizeMb: 16, nofile: 1024, ptys: 32 } });

/** Everything a pane printed from now on, as text. */
function record(lab: Lab, pane: string) {
  let text = '';
  lab.pane(pane)!.on('data', (c) => (text += c.toString()));
  return () => text;
}

test('an idle lab is warned in its panes and to its clients, then closed; typing keeps it', { skip }, async () => {
  const agent = await sideAgent(4, { idleMs: 2500, warnMs: 1500 });
  try {
    const c = await TestClient.connect(agent.url, agent.token);
    const id = (await c.request({ type: 'open', lesson: 'uts' })).data.id as string;
    const lab = agent.manager.get(id)!;
    const screen = record(lab, 'host');
    await c.request({ type: 'attach', lab: id, pane: 'host', cols: 100, rows: 30 });
    const warned = await c.waitFor((m) => m.type === 'lab-closing' && m.lab === id, 10_000);
    assert.equal(warned.reason, 'idle');
    assert.ok(warned.inMs > 0 && warned.inMs <= 1500);
    await waitFor('the notice in the pane', () => /\[nslab\] This lab has been idle and closes in \d+ s/.test(screen()));
    // The learner types: the lab stays past the moment it would have closed.
    c.send({ type: 'input', lab: id, pane: 'host', data: 'true\n' });
    await sleep(1500);
    assert.equal(lab.state, 'open', 'typing kept the lab');
    // Then nothing more: it closes, and the client is told why.
    const closed = await c.waitFor((m) => m.type === 'lab-closed' && m.lab === id, 10_000);
    assert.equal(closed.reason, 'idle');
    assert.equal(agent.manager.get(id), undefined);
    c.close();
  } finally {
    await agent.close();
  }
});

test('a lab closes at the end of its lifetime even while in use, after a warning', { skip }, async () => {
  const agent = await sideAgent(5, { maxLifetimeMs: 3000, warnMs: 2000 });
  try {
    const c = await TestClient.connect(agent.url, agent.token);
    const id = (await c.request({ type: 'open', lesson: 'uts' })).data.id as string;
    const screen = record(agent.manager.get(id)!, 'host');
    await c.request({ type: 'attach', lab: id, pane: 'host', cols: 100, rows: 30 });
    const typing = setInterval(() => c.send({ type: 'input', lab: id, pane: 'host', data: ':\n' }), 200);
    try {
      assert.equal((await c.waitFor((m) => m.type === 'lab-closing' && m.lab === id, 10_000)).reason, 'lifetime');
      assert.match(screen(), /reached its time limit and closes in \d+ s/);
      assert.equal((await c.waitFor((m) => m.type === 'lab-closed' && m.lab === id, 10_000)).reason, 'lifetime');
    } finally {
      clearInterval(typing);
    }
    c.close();
  } finally {
    await agent.close();
  }
});

test('a fork bomb stays in its lab: the process limit holds, the learner is told, other labs work', { skip }, async () => {
  const agent = useAgent();
  const bombed = await agent.manager.open('uts');
  const other = await agent.manager.open('uts');
  try {
    const screen = record(bombed, 'host');
    await waitForPrompt(bombed.pane('host')!);
    bombed.pane('host')!.write('bomb() { bomb | bomb & }; bomb\n');
    await waitFor('the process-limit notice', () => /\[nslab\] The lab hit its process limit \(64 processes\)/.test(screen()));
    const current = Number(readFileSync(`${bombed.cgroup!.paths.find((p) => p.includes('/pids/'))}/pids.current`, 'utf8'));
    assert.ok(current <= 64, `${current} processes in the lab`);
    // The rest of the machine carries on: another lab runs commands, the agent answers.
    assert.equal((await run(other, 'host', 'echo still-fine')).out.trim(), 'still-fine');
    assert.equal((await (await fetch(`${agent.url}/healthz`)).json()).ok, true);
  } finally {
    await bombed.close('test');
    await other.close('test');
  }
  assert.equal(bombed.cgroup!.isEmpty(), true);
});

test('a memory hog is killed inside its lab, with a notice; the lab goes on', { skip }, async () => {
  const agent = useAgent();
  const lab = await agent.manager.open('uts');
  try {
    const screen = record(lab, 'host');
    await waitForPrompt(lab.pane('host')!);
    // A subshell that keeps 300 MB in a variable.
    await typeAndWait(lab.pane('host')!, `( x=$(head -c 300M /dev/zero | tr '\\0' a) ); echo "hog exited $?"\n`, /hog exited \d+/, 60_000);
    await waitFor('the memory-limit notice', () => /\[nslab\] The lab hit its memory limit \(96 MB\)/.test(screen()));
    assert.match(screen(), /Killed|hog exited 137/);
    assert.ok((lab.cgroup!.memoryBytes() ?? 0) <= 96 * 1024 * 1024);
    assert.equal((await run(lab, 'host', 'echo alive')).out.trim(), 'alive', 'the lab works after');
  } finally {
    await lab.close('test');
  }
});

test('filling the disk gives "No space left" inside the lab only', { skip }, async () => {
  const agent = useAgent();
  const lab = await agent.manager.open('uts');
  try {
    for (const dir of ['/root', '/tmp']) {
      const r = await run(lab, 'host', `dd if=/dev/zero of=${dir}/fill bs=1M count=200 2>&1; df -m ${dir} | tail -1`);
      assert.match(r.out, /No space left on device/, dir);
      const size = Number(r.out.trim().split('\n').at(-1)!.split(/\s+/)[1]);
      assert.ok(size <= 32, `${dir} is ${size} MB, limited`);
    }
    assert.equal((await run(lab, 'host', 'rm /root/fill /tmp/fill && echo ok')).out.trim(), 'ok', 'and recovers once freed');
  } finally {
    await lab.close('test');
  }
});

test('a lab whose PID 1 dies is closed cleanly, and its clients are told', { skip }, async () => {
  const agent = useAgent();
  const c = await TestClient.connect(agent.url, agent.token);
  const id = (await c.request({ type: 'open', lesson: 'uts' })).data.id as string;
  const lab = agent.manager.get(id)!;
  await c.request({ type: 'attach', lab: id, pane: 'host', cols: 80, rows: 24 });
  const pids = lab.pids();
  process.kill(lab.initPid, 'SIGKILL');
  const closed = await c.waitFor((m) => m.type === 'lab-closed' && m.lab === id, 15_000);
  assert.match(closed.reason, /init exited/);
  await waitFor('every process gone', () => pids.every((p) => !isAlive(p)));
  assert.equal(agent.manager.get(id), undefined);
  assert.equal((await c.request({ type: 'list' })).type, 'result', 'the agent answers');
  c.close();
});

test('the spawner dying takes its labs down cleanly; a new one starts and labs open again', { skip }, async () => {
  const agent = await sideAgent(6, { warmLabs: 1 });
  try {
    const c = await TestClient.connect(agent.url, agent.token);
    const id = (await c.request({ type: 'open', lesson: 'pid' })).data.id as string;
    await c.request({ type: 'attach', lab: id, pane: 'container', cols: 80, rows: 24 });
    const lab = agent.manager.get(id)!;
    const pids = lab.pids();
    const old = agent.manager.spawner.pid!;
    process.kill(old, 'SIGKILL');
    assert.match((await c.waitFor((m) => m.type === 'lab-closed' && m.lab === id, 15_000)).reason, /spawner died/);
    await waitFor('every lab process gone', () => pids.every((p) => !isAlive(p)));
    await waitFor('a new spawner', () => agent.manager.spawner.pid !== old && agent.manager.spawner.pid !== undefined);
    const again = await c.request({ type: 'open', lesson: 'uts' });
    assert.equal(again.type, 'result', JSON.stringify(again));
    const r = await c.request({ type: 'exec', lab: again.data.id, pane: 'host', argv: ['hostname'] });
    assert.equal(Buffer.from(r.data.stdout, 'base64').toString().trim(), 'nslab');
    c.close();
  } finally {
    await agent.close();
  }
});

test('a syscall that fails in a lab is a named error for that request; the lab and the agent go on', { skip }, async () => {
  const agent = useAgent();
  const lab = await agent.manager.open('pid');
  const other = await agent.manager.open('uts');
  const pidsDir = lab.cgroup!.paths.find((p) => p.includes('/pids/'))!;
  try {
    const c = await TestClient.connect(agent.url, agent.token);
    // No room for one more process: the kernel refuses the fork for the new shell.
    const current = readFileSync(`${pidsDir}/pids.current`, 'utf8').trim();
    writeFileSync(`${pidsDir}/pids.max`, current);
    const r = await c.request({ type: 'restart', lab: lab.id, pane: 'container' });
    assert.equal(r.type, 'error');
    assert.equal(r.code, 'failed');
    assert.match(r.message, /EAGAIN|Resource temporarily unavailable|fork/i, r.message);
    writeFileSync(`${pidsDir}/pids.max`, '64');
    assert.equal((await c.request({ type: 'restart', lab: lab.id, pane: 'container' })).type, 'result', 'the same request works once there is room');
    assert.equal((await run(other, 'host', 'echo other-fine')).out.trim(), 'other-fine');
    c.close();
  } finally {
    await lab.close('test');
    await other.close('test');
  }
});

function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

test('a full agent gives a learner the place of a lab made ahead, rather than refusing', { skip }, async () => {
  // Four labs at most, the pools wanting one bare lab and one prepared lab per lesson: they fill
  // every place but the last (the pools never take that one).
  const agent = await sideAgent(8, { maxLabs: 4, warmLabs: 1, warmPerLesson: 1 });
  try {
    const m = agent.manager;
    // warmCount: the bare labs and the prepared ones together.
    await waitFor('three places taken ahead', async () => m.warmCount === 3, 30_000);
    const ready = new Set(m.catalogue.ids().filter((id) => m.readyCount(id) > 0));
    const others = m.catalogue.ids().filter((id) => !ready.has(id));
    // Four learners, each for a lesson with no lab made ahead: every one of them gets a lab.
    const opened: Lab[] = [];
    for (const lesson of others.slice(0, 4)) opened.push(await m.open(lesson));
    assert.equal(opened.length, 4);
    for (const lab of opened) assert.equal(lab.state, 'open');
    // A fifth: nothing is left to give way, so the usual refusal.
    await assert.rejects(m.open(others[4] ?? others[0]!), /all 4 labs are in use/);
  } finally {
    await agent.close();
  }
});

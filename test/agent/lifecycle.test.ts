// Labs end cleanly: closing one leaves no process, mount, cgroup or directory; a shell that exits
// is reported and can be restarted; killing the agent (SIGKILL) leaves no lab process, and the
// next start removes what it left.
import { nsPids } from '../../apps/agent/src/inspect/ns.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { startTestAgent, testConfig, run, typeAndWait, TEST_INSTANCE } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';
import { waitFor } from '../helpers/wait.ts';
import { labProcesses } from '../../apps/agent/src/sandbox/sweep.ts';
import { IdRanges } from '../../apps/agent/src/sandbox/idrange.ts';
import { startAgent } from '../../apps/agent/src/server/agent.ts';

const skip = rootOrSkip('the lifecycle tests');

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/\nState:\s+Z/.test(safeRead(`/proc/${pid}/status`));
function safeRead(p: string) {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

test('closing a lab leaves no process, mount, cgroup or staging directory', { skip }, async () => {
  const agent = await startTestAgent();
  try {
    const lab = await agent.manager.open('mount');
    await run(lab, 'host', 'sleep 1000 >/dev/null 2>&1 & echo started');
    await typeAndWait(lab.pane('container')!, 'mount -t proc proc /proc; (sleep 999 &) ; echo bg\n', /bg\r?\n/);
    const ids = new IdRanges(lab.uidBase, 65536, 1);
    const pids = labProcesses(ids);
    assert.ok(pids.length >= 5, `the lab has processes: ${pids.join(' ')}`);
    const cgroups = lab.cgroup?.paths ?? [];
    assert.ok(cgroups.length > 0, 'the lab has cgroups on this host');
    assert.ok(cgroups.every((c) => existsSync(c)));
    await agent.manager.close(lab.id);
    assert.deepEqual(labProcesses(ids), [], 'no process of the lab survives');
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} is gone`);
    for (const c of cgroups) assert.equal(existsSync(c), false, `cgroup ${c} removed`);
    assert.equal(existsSync(lab.stageDir), false, 'staging directory removed');
    assert.doesNotMatch(readFileSync('/proc/self/mountinfo', 'utf8'), new RegExp(TEST_INSTANCE), 'no mount left on the host');
    assert.equal(agent.manager.get(lab.id), undefined);
    assert.equal(agent.manager.ids.inUse, 0, 'the id range is free again');
  } finally {
    await agent.close();
  }
});

test("a pane's shell exiting is reported, and the pane restarts", { skip }, async () => {
  const agent = await startTestAgent();
  try {
    const lab = await agent.manager.open('uts');
    const host = lab.pane('host')!;
    const firstPid = host.pid;
    const exited = new Promise<[number | null, number | null]>((r) => host.once('exit', (c, s) => r([c, s])));
    host.write('exit 3\n');
    assert.deepEqual(await exited, [3, null]);
    assert.equal(host.running, false);
    await assert.rejects(lab.exec(host, ['true']), /not running/);
    await lab.startPane(host);
    assert.equal(host.running, true);
    assert.notEqual(host.pid, firstPid);
    assert.equal((await run(lab, 'host', 'echo again')).out.trim(), 'again');
    // A PID-1 pane: its exit is seen through a pidfd.
    const container = lab.pane('container')!;
    const exited2 = new Promise<void>((r) => container.once('exit', () => r()));
    container.write('exit\n');
    await exited2;
    await lab.startPane(container);
    assert.equal((await run(lab, 'container', 'hostname')).code, 0);
  } finally {
    await agent.close();
  }
});

test('warm labs: opening takes a ready lab, the pool refills, stopping closes them all', { skip }, async () => {
  const agent = await startTestAgent({ warmLabs: 2 });
  const ids = new IdRanges(agent.manager.config.idBase, 65536, agent.manager.config.maxLabs);
  try {
    await waitFor('two warm labs', () => agent.manager.warmCount === 2, 10_000);
    assert.equal(agent.manager.list().length, 0, 'warm labs are not listed as open');
    const asked = Date.now();
    const lab = await agent.manager.open('net');
    assert.ok(lab.createdAt.getTime() < asked, 'the open lab was made before it was asked for');
    assert.equal((await run(lab, 'container', 'cat /proc/net/dev | wc -l')).out.trim(), '3');
    await waitFor('the pool refills', () => agent.manager.warmCount === 2, 10_000);
    assert.equal(agent.manager.ids.inUse, 3);
    assert.ok(labProcesses(ids).length >= 6);
  } finally {
    await agent.close();
  }
  assert.deepEqual(labProcesses(ids), [], 'no warm lab survives the agent stopping');
});

test('prepared labs: a lesson opens with its shells already at the prompt, and its pool refills', { skip }, async () => {
  const agent = await startTestAgent({ warmPerLesson: 1 });
  const ids = new IdRanges(agent.manager.config.idBase, 65536, agent.manager.config.maxLabs);
  const lessons = agent.manager.catalogue.list().length;
  try {
    await waitFor('a prepared lab per lesson', () => agent.manager.preparedCount === lessons, 30_000);
    assert.equal(agent.manager.list().length, 0, 'prepared labs are not listed as open');
    const asked = performance.now();
    const lab = await agent.manager.open('pid');
    for (const pane of lab.panes.values()) {
      assert.ok(pane.running, `${pane.name} runs`);
      assert.ok(pane.firstOutputAt !== null && pane.firstOutputAt < asked, `${pane.name} printed its prompt before the lab was asked for`);
    }
    // It is the lesson's lab: the container is PID 1 of its own namespace.
    assert.equal(nsPids(lab.pane('container')!.pid!).at(-1), 1);
    assert.equal(lab.lesson?.id, 'pid');
    await waitFor('the pool refills', () => agent.manager.preparedCount === lessons, 30_000);
    // Another lesson's prepared lab is not given out for this one.
    const again = await agent.manager.open('pid');
    assert.equal(again.lesson?.id, 'pid');
    assert.notEqual(again.id, lab.id);
  } finally {
    await agent.close();
  }
  assert.deepEqual(labProcesses(ids), [], 'no prepared lab survives the agent stopping');
});

test('several labs open at once get distinct id ranges and all work', { skip }, async () => {
  const agent = await startTestAgent();
  try {
    const labs = await Promise.all(['pid', 'net', 'user', 'uts', 'ipc', 'time'].map((l) => agent.manager.open(l as 'pid')));
    assert.equal(new Set(labs.map((l) => l.uidBase)).size, labs.length);
    const outs = await Promise.all(labs.map((l) => run(l, 'container', 'id -u; echo ok')));
    for (const o of outs) assert.match(o.out, /^0\nok\n$/);
  } finally {
    await agent.close();
  }
});

test('SIGKILL of the agent leaves no lab process; the next start sweeps what is left', { skip }, async () => {
  const instance = 'nslabkill';
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/agent-proc.ts', instance], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (c) => reject(new Error(`agent exited early (${c})`)));
  });
  const info = JSON.parse(line) as { agentPid: number; spawnerPid: number; uidBase: number; pids: number[]; cgroups: string[]; stageDir: string };
  const ids = new IdRanges(210_000_000, 65536, 64);
  assert.ok(labProcesses(ids).length >= 7, 'the lab and a warm lab are running');
  child.kill('SIGKILL');
  await waitFor('the spawner dies with the agent', () => !alive(info.spawnerPid), 5000);
  await waitFor('every lab process dies with the agent', () => labProcesses(ids).length === 0, 5000);
  for (const pid of info.pids) assert.equal(alive(pid), false);
  // What a SIGKILL cannot clean: cgroup directories and the staging directory. The next start does.
  assert.ok(
    info.cgroups.some((c) => existsSync(c)),
    'the killed agent left its cgroups',
  );
  const next = await startAgent(testConfig({ instance, stateDir: `/run/${instance}`, idBase: 210_000_000 }), { quiet: true });
  try {
    for (const c of info.cgroups) assert.equal(existsSync(c), false, `${c} swept`);
    assert.equal(existsSync(info.stageDir), false, 'staging directory swept');
  } finally {
    await next.close();
  }
});

// The namespace builder's panes, against real labs: each is made in exactly the namespaces
// chosen (the kernel's /proc says so), nested ones inside their parent's, with the options they
// asked for; the protocol refuses what it must (a lesson's lab, bad choices, too many panes, a
// lesson's pane to close), and closing a pane closes the panes made inside it, processes and all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { NAMESPACE_TYPES, type NamespaceType } from '@nslab/shared';
import type { RunningAgent } from '../../apps/agent/src/server/agent.ts';
import type { Lab } from '../../apps/agent/src/sandbox/lab.ts';
import { run, startTestAgent, waitForPrompt } from '../helpers/agent.ts';
import { TestClient } from '../helpers/ws.ts';
import { rootOrSkip } from '../helpers/env.ts';

const skip = rootOrSkip('the builder tests');

let agent: RunningAgent;
let c: TestClient;

before(async () => {
  if (skip) return;
  agent = await startTestAgent();
  c = await TestClient.connect(agent.url, agent.token);
});

after(async () => {
  if (skip) return;
  c?.close();
  await agent?.close();
});

const nsOf = (pid: number, t: NamespaceType) => readlinkSync(`/proc/${pid}/ns/${t}`);

/** Which types differ between two processes, as the kernel says. */
function differing(a: number, b: number): NamespaceType[] {
  return NAMESPACE_TYPES.filter((t) => nsOf(a, t) !== nsOf(b, t));
}

async function openBuilder(): Promise<{ lab: Lab; id: string }> {
  const r = await c.request({ type: 'open', lesson: 'builder' });
  assert.equal(r.type, 'result', JSON.stringify(r));
  const lab = agent.manager.get(r.data.id)!;
  await waitForPrompt(lab.pane('host')!);
  return { lab, id: r.data.id };
}

async function add(lab: string, choice: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return c.request({ type: 'pane-add', lab, choice: { mapUser: false, mountProc: false, fork: false, ...choice }, ...extra });
}

test('a builder pane has exactly the namespaces chosen, and its options', { skip }, async () => {
  const { lab, id } = await openBuilder();
  try {
    const r = await add(id, { types: ['uts', 'pid', 'mnt', 'user'], mapUser: true, mountProc: true, fork: true, hostname: 'bird' });
    assert.equal(r.type, 'result', JSON.stringify(r));
    assert.equal(r.data.name, 'ns1');
    assert.deepEqual(r.data.built, { mapUser: true, mountProc: true, hostname: 'bird' });
    const pane = lab.pane('ns1')!;
    await waitForPrompt(pane);
    const host = lab.pane('host')!.pid!;
    assert.deepEqual(differing(pane.pid!, host).sort(), ['mnt', 'pid', 'user', 'uts']);
    // Root inside is the lab's root outside (unshare --map-root-user, run by the lab's root).
    assert.equal(readFileSync(`/proc/${pane.pid}/uid_map`, 'utf8').trim().split(/\s+/).join(' '), `0 ${lab.uidBase} 1`);
    const inside = await run(lab, 'ns1', 'echo $$; hostname; ls /proc | grep -c "^[0-9]"; id -u');
    const [pid1, hostname, procs, uid] = inside.out.trim().split('\n');
    assert.equal(hostname, 'bird');
    assert.equal(uid, '0');
    // Its own /proc: the shell (PID 1) and the command, not the lab's processes.
    assert.ok(Number(procs) <= 4, `the new /proc lists ${procs} processes`);
    assert.notEqual(pid1, '1', 'the exec is not the shell');
    const shellPid = readFileSync(`/proc/${pane.pid}/status`, 'utf8')
      .match(/^NSpid:\s+(.*)$/m)![1]!
      .trim()
      .split(/\s+/);
    assert.equal(shellPid.at(-1), '1', 'the shell is PID 1 of its namespace');
    // The host pane's /proc is the lab's, unchanged.
    const hostProcs = await run(lab, 'host', 'ls /proc | grep -c "^[0-9]"');
    assert.ok(Number(hostProcs.out) > Number(procs));
  } finally {
    await agent.manager.close(id);
  }
});

test('without the user mapped the shell is the overflow uid; a cgroup namespace stays in its cgroup', { skip }, async () => {
  const { lab, id } = await openBuilder();
  try {
    const r = await add(id, { types: ['user', 'cgroup', 'time', 'ipc', 'net'] });
    assert.equal(r.type, 'result', JSON.stringify(r));
    const pane = lab.pane(r.data.name)!;
    await waitForPrompt(pane);
    assert.deepEqual(differing(pane.pid!, lab.pane('host')!.pid!).sort(), ['cgroup', 'ipc', 'net', 'time', 'user']);
    assert.equal(readFileSync(`/proc/${pane.pid}/uid_map`, 'utf8').trim(), '');
    assert.equal(readFileSync(`/proc/${pane.pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)![1], String(lab.uidBase), 'outside, it is still the lab root');
    const cg = (pid: number) => readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    assert.equal(cg(pane.pid!), cg(lab.pane('host')!.pid!), 'unshare --cgroup moves no process');
  } finally {
    await agent.manager.close(id);
  }
});

test('a nested pane is made inside its parent: it shares what the parent has, and adds its own', { skip }, async () => {
  const { lab, id } = await openBuilder();
  try {
    const outer = await add(id, { types: ['uts', 'user', 'net'], mapUser: true, hostname: 'outer' });
    assert.equal(outer.type, 'result', JSON.stringify(outer));
    const inner = await add(id, { types: ['ipc', 'uts'], hostname: 'inner' }, { parent: 'ns1', name: 'deep' });
    assert.equal(inner.type, 'result', JSON.stringify(inner));
    assert.equal(inner.data.built.parent, 'ns1');
    const [host, p1, p2] = ['host', 'ns1', 'deep'].map((n) => lab.pane(n)!.pid!) as [number, number, number];
    await waitForPrompt(lab.pane('deep')!);
    assert.deepEqual(differing(p2, p1).sort(), ['ipc', 'uts']);
    assert.deepEqual(differing(p2, host).sort(), ['ipc', 'net', 'user', 'uts']);
    assert.equal(nsOf(p2, 'net'), nsOf(p1, 'net'), "the nested pane is in its parent's network namespace");
    assert.equal((await run(lab, 'deep', 'hostname')).out.trim(), 'inner');
    assert.equal((await run(lab, 'ns1', 'hostname')).out.trim(), 'outer');

    // Closing the parent closes what was made inside it, and their processes go.
    const closed = await c.request({ type: 'pane-close', lab: id, pane: 'ns1' });
    assert.equal(closed.type, 'result', JSON.stringify(closed));
    assert.deepEqual(closed.data.closed, ['deep', 'ns1']);
    assert.equal(lab.pane('ns1'), undefined);
    assert.equal(lab.pane('deep'), undefined);
    for (let i = 0; i < 100 && [p1, p2].some((p) => alive(p)); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(!alive(p1) && !alive(p2), 'the closed panes’ shells are gone');

    // Inside the host pane is inside the lab's own namespaces.
    const inHost = await add(id, { types: ['uts'] }, { parent: 'host' });
    assert.equal(inHost.type, 'result', JSON.stringify(inHost));
    await waitForPrompt(lab.pane(inHost.data.name)!);
    assert.deepEqual(differing(lab.pane(inHost.data.name)!.pid!, host), ['uts']);
  } finally {
    await agent.manager.close(id);
  }
});

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

test('the builder refuses what it must, with reasons, and the lab goes on', { skip }, async () => {
  const { lab, id } = await openBuilder();
  const lesson = await c.request({ type: 'open', lesson: 'uts' });
  try {
    // Only the builder's lab takes new panes.
    const r1 = await add(lesson.data.id, { types: ['uts'] });
    assert.equal(r1.type, 'error');
    assert.match(r1.message, /builder/);
    // Choices that cannot be made.
    const r2 = await add(id, { types: ['uts'], mountProc: true });
    assert.equal(r2.code, 'bad-message', JSON.stringify(r2));
    const r3 = await add(id, { types: ['pid'], fork: false });
    assert.equal(r3.code, 'bad-message', JSON.stringify(r3));
    assert.match(r3.message, /fork/);
    const r4 = await add(id, { types: ['bogus'] });
    assert.equal(r4.code, 'bad-message', JSON.stringify(r4));
    // A parent that is not there; a name that is taken; a lesson's pane to close.
    const r5 = await add(id, { types: ['uts'] }, { parent: 'nope' });
    assert.equal(r5.code, 'unknown-pane', JSON.stringify(r5));
    const r6 = await add(id, { types: ['uts'] }, { name: 'host' });
    assert.equal(r6.code, 'conflict', JSON.stringify(r6));
    const r7 = await c.request({ type: 'pane-close', lab: id, pane: 'host' });
    assert.equal(r7.type, 'error');
    assert.match(r7.message, /lesson|builder/);
    // Nothing can be made inside a user namespace whose root is not mapped.
    const unmapped = await add(id, { types: ['user'] });
    assert.equal(unmapped.type, 'result', JSON.stringify(unmapped));
    const r9 = await add(id, { types: [] }, { parent: unmapped.data.name });
    assert.equal(r9.code, 'bad-message', JSON.stringify(r9));
    assert.match(r9.message, /no id maps/);
    assert.equal((await c.request({ type: 'pane-close', lab: id, pane: unmapped.data.name })).type, 'result');
    // A bounded number of panes.
    for (let i = 0; i < 6; i++) assert.equal((await add(id, { types: ['uts'] })).type, 'result');
    const r8 = await add(id, { types: ['uts'] });
    assert.equal(r8.code, 'limit', JSON.stringify(r8));
    assert.equal(lab.builtPanes().length, 6);
    // Closing one makes room again.
    assert.equal((await c.request({ type: 'pane-close', lab: id, pane: 'ns3' })).type, 'result');
    assert.equal((await add(id, { types: ['ipc'] })).type, 'result');
    assert.ok(lab.pane('host')!.running);
  } finally {
    await agent.manager.close(id);
    if (lesson.type === 'result') await agent.manager.close(lesson.data.id);
  }
});

test('a client attached to a builder pane is told when it closes', { skip }, async () => {
  const { id } = await openBuilder();
  try {
    const r = await add(id, { types: ['uts'] });
    assert.equal(r.type, 'result');
    const other = await TestClient.connect(agent.url, agent.token);
    try {
      const at = await other.request({ type: 'attach', lab: id, pane: r.data.name });
      assert.equal(at.type, 'result', JSON.stringify(at));
      await c.request({ type: 'pane-close', lab: id, pane: r.data.name });
      const ev = await other.waitFor((m) => m.type === 'pane-closed');
      assert.deepEqual(ev, { type: 'pane-closed', lab: id, pane: r.data.name });
    } finally {
      other.close();
    }
  } finally {
    await agent.manager.close(id);
  }
});

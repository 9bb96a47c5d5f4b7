// Every lesson's lab, checked against what the kernel says: /proc/PID/ns inodes, NSpid, uid
// maps, hostnames, message queues, mounts, network devices, cgroup paths and clocks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LESSON_IDS, NAMESPACE_TYPES, TIME_LESSON_OFFSET_S, type LessonId } from '@nslab/shared';
import { nsInodes, nsPids, hostUid } from '../../apps/agent/src/inspect/ns.ts';
import type { RunningAgent } from '../../apps/agent/src/server/agent.ts';
import type { Lab } from '../../apps/agent/src/sandbox/lab.ts';
import { startTestAgent, run, typeAndWait, TEST_INSTANCE } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';

const skip = rootOrSkip('the namespace tests');

let agent: RunningAgent;
const labs = new Map<LessonId, Lab>();

before(async () => {
  if (skip) return;
  agent = await startTestAgent();
  for (const id of LESSON_IDS) labs.set(id, await agent.manager.open(id));
});

after(async () => {
  if (skip) return;
  await agent.close();
});

const lessonTypes: Record<LessonId, string[]> = {
  uts: ['uts'],
  ipc: ['ipc'],
  pid: ['pid'],
  mount: ['mnt', 'pid'],
  net: ['net'],
  user: ['user'],
  cgroup: ['cgroup'],
  time: ['time'],
  // The learner makes the container's namespaces with unshare: both panes start in the lab's.
  container: [],
};

for (const id of LESSON_IDS) {
  test(`${id}: the lab is in namespaces of its own, all eight`, { skip }, () => {
    const lab = labs.get(id)!;
    const agentNs = nsInodes('self');
    const hostNs = nsInodes(lab.pane('host')!.pid!);
    for (const t of NAMESPACE_TYPES) assert.notEqual(hostNs[t], agentNs[t], `${t} namespace of the lab's host pane equals the agent's`);
  });

  test(`${id}: the container pane differs from host in ${lessonTypes[id].join('+') || 'nothing'} and shares the rest`, { skip }, () => {
    const lab = labs.get(id)!;
    const host = nsInodes(lab.pane('host')!.pid!);
    const container = nsInodes(lab.pane('container')!.pid!);
    assert.deepEqual(agent.manager.catalogue.get(id)!.def.panes.find((p) => p.name === 'container')!.unshare, lessonTypes[id]);
    for (const t of NAMESPACE_TYPES) {
      if (lessonTypes[id].includes(t)) assert.notEqual(container[t], host[t], `${t} should differ`);
      else assert.equal(container[t], host[t], `${t} should be shared`);
    }
  });
}

test('uts: a hostname set in the container is not seen in host', { skip }, async () => {
  const lab = labs.get('uts')!;
  const before = (await run(lab, 'host', 'uname -n')).out.trim();
  await typeAndWait(lab.pane('container')!, 'hostname -b bird; echo set-$(hostname)\n', /set-bird/);
  assert.equal((await run(lab, 'container', 'uname -n')).out.trim(), 'bird');
  const after = (await run(lab, 'host', 'uname -n')).out.trim();
  assert.equal(after, before);
  assert.notEqual(after, 'bird');
  assert.notEqual(readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(), 'bird', 'the real host is untouched');
});

test('ipc: a queue made with ipcmk -Q in host is not listed by ipcs -q in container', { skip }, async () => {
  const lab = labs.get('ipc')!;
  const made = await run(lab, 'host', 'ipcmk -Q');
  assert.equal(made.code, 0, made.err);
  const rows = (text: string) => text.trim().split('\n').length - 1;
  assert.ok(rows((await run(lab, 'host', 'cat /proc/sysvipc/msg')).out) >= 1);
  assert.equal(rows((await run(lab, 'container', 'cat /proc/sysvipc/msg')).out), 0);
  assert.doesNotMatch((await run(lab, 'container', 'ipcs -q')).out, /0x[0-9a-f]{8}\s+\d+/);
  assert.match((await run(lab, 'host', 'ipcs -q')).out, /0x[0-9a-f]{8}\s+\d+/);
});

test('pid: echo $$ prints 1 in the container pane; NSpid shows one pid per level', { skip }, async () => {
  const lab = labs.get('pid')!;
  const screen = await typeAndWait(lab.pane('container')!, 'echo pid=$$\n', /pid=\d+\r?\n/);
  assert.match(screen, /pid=1\r?\n/);
  const levels = nsPids(lab.pane('container')!.pid!);
  assert.equal(levels.length, 3, `NSpid ${levels.join(' ')}: host, lab, container`);
  assert.equal(levels[2], 1);
  assert.equal(levels[0], lab.pane('container')!.pid);
  const hostLevels = nsPids(lab.pane('host')!.pid!);
  assert.equal(hostLevels.length, 2);
  assert.notEqual(hostLevels[1], 1, 'the host pane is not PID 1: the lab init is');
});

test('mount: mount -t proc in the container does not change the host pane /proc', { skip }, async () => {
  const lab = labs.get('mount')!;
  const hostBefore = (await run(lab, 'host', 'cat /proc/self/mountinfo')).out;
  const hostPidsBefore = (await run(lab, 'host', 'ls /proc | grep -c "^[0-9]"')).out.trim();
  await typeAndWait(lab.pane('container')!, 'mount -t proc proc /proc && echo mounted-ok\n', /mounted-ok/);
  const containerPids = (await run(lab, 'container', 'ls /proc | grep "^[0-9]"')).out.trim().split('\n');
  assert.ok(containerPids.includes('1'), 'the container shell is PID 1 in its /proc');
  assert.ok(containerPids.length < Number(hostPidsBefore) + 2, 'the container /proc lists only its own processes');
  const hostAfter = (await run(lab, 'host', 'cat /proc/self/mountinfo')).out;
  assert.equal(hostAfter, hostBefore, "the host pane's mounts are unchanged");
  assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(`/run/${TEST_INSTANCE}`), false, 'nothing leaked to the real host');
});

test('net: the container has only lo; the lab has loopback up', { skip }, async () => {
  const lab = labs.get('net')!;
  const devs = (r: string) =>
    r
      .split('\n')
      .slice(2)
      .map((l) => l.split(':')[0]!.trim())
      .filter(Boolean);
  assert.deepEqual(devs((await run(lab, 'container', 'cat /proc/net/dev')).out), ['lo']);
  assert.deepEqual(devs((await run(lab, 'host', 'cat /proc/net/dev')).out), ['lo']);
  assert.match((await run(lab, 'host', 'ip -o link')).out, /lo: <LOOPBACK,UP/);
  assert.match((await run(lab, 'container', 'ip -o link')).out, /lo: <LOOPBACK>/, 'a fresh network namespace has lo DOWN');
});

test('net: the learner can wire a veth pair between host and container and ping both ways', { skip }, async () => {
  const lab = labs.get('net')!;
  const containerLabPid = nsPids(lab.pane('container')!.pid!)[1];
  const wire = await run(
    lab,
    'host',
    `ip link add veth0 type veth peer name veth1 && ip link set veth1 netns ${containerLabPid} && ip addr add 10.1.1.1/24 dev veth0 && ip link set veth0 up`,
  );
  assert.equal(wire.code, 0, wire.err);
  const up = await run(lab, 'container', 'ip addr add 10.1.1.2/24 dev veth1 && ip link set veth1 up && ip link set lo up');
  assert.equal(up.code, 0, up.err);
  const ping = (pane: string, to: string) => run(lab, pane, `ping -c 1 -W 2 ${to}`);
  assert.equal((await ping('container', '10.1.1.1')).code, 0, 'container -> host');
  assert.equal((await ping('host', '10.1.1.2')).code, 0, 'host -> container');
  assert.doesNotMatch(readFileSync('/proc/net/dev', 'utf8'), /veth0|veth1/, 'the real host has no such devices');
});

test('the learner can make namespaces inside the lab', { skip }, async () => {
  const lab = labs.get('uts')!;
  const r = await run(
    lab,
    'host',
    `unshare --user --map-root-user --net --uts --ipc --pid --fork --mount --mount-proc sh -c 'hostname inner && echo $$ && id -u'`,
  );
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(r.out.trim().split('\n'), ['1', '0']);
});

test('a pane follows its terminal size', { skip }, async () => {
  const pane = labs.get('ipc')!.pane('host')!;
  pane.resize(123, 45);
  const screen = await typeAndWait(pane, 'stty size\n', /\d+ \d+\r?\n/);
  assert.match(screen, /45 123/);
});

test('user: id -u is 0 inside while the host sees the mapped uid', { skip }, async () => {
  const lab = labs.get('user')!;
  const host = lab.pane('host')!;
  const container = lab.pane('container')!;
  assert.equal((await run(lab, 'host', 'id -u')).out.trim(), '0');
  assert.equal((await run(lab, 'container', 'id -u')).out.trim(), '0');
  assert.equal(hostUid(host.pid!), lab.uidBase, 'the lab root is an unprivileged uid on the host');
  assert.equal(hostUid(container.pid!), lab.uidBase + 1000, 'the container root is lab uid 1000');
  assert.equal((await run(lab, 'host', 'cat /proc/self/uid_map')).out.trim().split(/\s+/).join(' '), `0 ${lab.uidBase} 65536`);
  assert.equal((await run(lab, 'container', 'cat /proc/self/uid_map')).out.trim().split(/\s+/).join(' '), '0 1000 1');
  const labPid = nsPids(container.pid!)[1];
  assert.equal((await run(lab, 'host', `ps -o uid= -p ${labPid}`)).out.trim(), '1000', 'the lab sees the container root as uid 1000');
  assert.equal((await run(lab, 'host', 'cat /proc/self/setgroups')).out.trim(), 'deny');
});

test('cgroup: /proc/self/cgroup shows / inside the container, the real path from host', { skip }, async () => {
  const lab = labs.get('cgroup')!;
  const container = lab.pane('container')!;
  const paths = (text: string) =>
    new Set(
      text
        .trim()
        .split('\n')
        .map((l) => l.split(':').slice(2).join(':')),
    );
  assert.deepEqual(paths((await run(lab, 'container', 'cat /proc/self/cgroup')).out), new Set(['/']));
  assert.deepEqual(paths((await run(lab, 'host', 'cat /proc/self/cgroup')).out), new Set(['/']), 'the lab sees itself at /');
  const nsPid = nsPids(container.pid!)[1];
  const seen = paths((await run(lab, 'host', `cat /proc/${nsPid}/cgroup`)).out);
  assert.ok(seen.has('/pane-container'), `host pane sees the container in its sub-cgroup: ${[...seen].join(', ')}`);
});

test('time: uptime in the container is ahead by the offset', { skip }, async () => {
  const lab = labs.get('time')!;
  const up = async (pane: string) => Number((await run(lab, pane, 'cat /proc/uptime')).out.split(' ')[0]);
  const host = await up('host');
  const container = await up('container');
  assert.ok(Math.abs(container - host - TIME_LESSON_OFFSET_S) < 60, `container ${container} - host ${host} should be about ${TIME_LESSON_OFFSET_S}`);
  const dates = await Promise.all([run(lab, 'host', 'date +%s'), run(lab, 'container', 'date +%s')]);
  assert.ok(Math.abs(Number(dates[0].out) - Number(dates[1].out)) <= 2, 'CLOCK_REALTIME is not virtualized');
});

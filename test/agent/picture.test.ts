// The namespace picture's facts (what each namespace holds) against what the kernel says inside
// the lab: the learner's own commands in the panes, compared with what the agent read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { takePictureWithFacts } from '../../apps/agent/src/inspect/picture.ts';
import { useTestAgent, run } from '../helpers/agent.ts';
import { rootOrSkip } from '../helpers/env.ts';
import type { Lab } from '../../apps/agent/src/sandbox/lab.ts';
import type { Picture } from '@nslab/shared';

const skip = rootOrSkip();
const useAgent = useTestAgent(skip);

/** The inode of a pane shell's namespace of `type`, as the picture has it. */
function paneNs(p: Picture, pane: string, type: keyof Picture['lab']): string {
  const pid = p.panes.find((x) => x.name === pane)!.pid!;
  return String(p.processes.find((x) => x.pid === pid)!.ns[type]);
}

async function withLab(lesson: string, fn: (lab: Lab) => Promise<void>) {
  const lab = await useAgent().manager.open(lesson);
  try {
    await fn(lab);
  } finally {
    await useAgent().manager.close(lab.id);
  }
}

test('UTS: each namespace shows its host name', { skip }, () =>
  withLab('uts', async (lab) => {
    await run(lab, 'container', 'hostname -b bird');
    const p = await takePictureWithFacts(lab);
    for (const pane of ['host', 'container']) {
      const kernel = (await run(lab, pane, 'uname -n')).out.trim();
      assert.equal(p.facts?.uts?.[paneNs(p, pane, 'uts')]?.hostname, kernel, pane);
    }
    assert.equal(p.facts!.uts![paneNs(p, 'container', 'uts')]!.hostname, 'bird');
    assert.equal(p.processes.find((x) => x.pid === 1)?.comm, 'nslab-init', "the lab's PID 1 by the name it runs under");
  }),
);

test('IPC: each namespace shows its own System V objects', { skip }, () =>
  withLab('ipc', async (lab) => {
    await run(lab, 'host', 'ipcmk -Q >/dev/null');
    await run(lab, 'container', 'ipcmk -Q >/dev/null; ipcmk -M 4096 >/dev/null');
    const p = await takePictureWithFacts(lab);
    for (const pane of ['host', 'container']) {
      // ipcs -q/-m: key, id, owner, ... (one line per object after the headers).
      const listed = (await run(lab, pane, "ipcs -q -m | awk '/^0x/ {print $1, $2}'")).out.trim().split('\n').filter(Boolean).sort();
      const shown = p.facts!.ipc![paneNs(p, pane, 'ipc')]!.objects.map((o) => `${o.key} ${o.id}`).sort();
      assert.deepEqual(shown, listed, pane);
    }
    assert.equal(p.facts!.ipc![paneNs(p, 'container', 'ipc')]!.objects.length, 2);
  }),
);

test('network: each namespace shows its devices, their state and addresses', { skip }, () =>
  withLab('net', async (lab) => {
    await run(lab, 'host', 'ip link add veth0 type veth peer name veth1 && ip addr add 10.1.1.1/24 dev veth0 && ip link set veth0 up');
    const p = await takePictureWithFacts(lab);
    for (const pane of ['host', 'container']) {
      const kernel = (await run(lab, pane, "ip -o link | awk -F': ' '{print $2}' | sed 's/@.*//'")).out.trim().split('\n').sort();
      const shown = p.facts!.net![paneNs(p, pane, 'net')]!.devices.map((d) => d.name).sort();
      assert.deepEqual(shown, kernel, pane);
    }
    const veth0 = p.facts!.net![paneNs(p, 'host', 'net')]!.devices.find((d) => d.name === 'veth0')!;
    assert.deepEqual(veth0, { name: 'veth0', up: true, addresses: ['10.1.1.1/24'] });
  }),
);

test('user: each namespace shows its id map relative to its parent', { skip }, () =>
  withLab('user', async (lab) => {
    const p = await takePictureWithFacts(lab);
    const line = (text: string) => text.trim().split(/\s+/).map(Number);
    const container = p.facts!.user![paneNs(p, 'container', 'user')]!;
    const [inside, outside, count] = line((await run(lab, 'container', 'cat /proc/self/uid_map')).out);
    assert.deepEqual(container.uidMap, [{ inside, outside, count }], 'as the container reads its own map (its parent is the lab)');
    assert.equal(container.parent, Number(paneNs(p, 'host', 'user')), "its parent is the lab's user namespace");
    const lab0 = p.facts!.user![paneNs(p, 'host', 'user')]!;
    assert.equal(lab0.parent, null, "the lab's own namespace has the host as its parent");
    assert.deepEqual(lab0.uidMap, [{ inside: 0, outside: lab.uidBase, count: useAgent().manager.config.idsPerLab }]);
  }),
);

test('time: each namespace shows its clock offsets', { skip }, () =>
  withLab('time', async (lab) => {
    const p = await takePictureWithFacts(lab);
    for (const pane of ['host', 'container']) {
      const text = (await run(lab, pane, 'cat /proc/self/timens_offsets')).out;
      const secs = (name: string) => Number(new RegExp(`${name}\\s+(-?\\d+)`).exec(text)![1]);
      assert.deepEqual(p.facts!.time![paneNs(p, pane, 'time')], { monotonic: secs('monotonic'), boottime: secs('boottime') }, pane);
    }
    assert.ok(p.facts!.time![paneNs(p, 'container', 'time')]!.boottime > 0, 'the container is shifted');
  }),
);

test('cgroup: each namespace shows the cgroup that is its root, as the lab names it', { skip }, () =>
  withLab('cgroup', async (lab) => {
    const p = await takePictureWithFacts(lab);
    assert.equal(p.facts!.cgroup![paneNs(p, 'host', 'cgroup')]!.root, '/');
    // The host pane sees the container shell's cgroup by its path from the lab's root.
    const containerPid = p.panes.find((x) => x.name === 'container')!.pid!;
    const seen = (await run(lab, 'host', `grep -m1 -E '^[0-9]+:(pids|memory|cpu)[^:]*:|^0::' /proc/${containerPid}/cgroup | cut -d: -f3`)).out.trim();
    assert.equal(p.facts!.cgroup![paneNs(p, 'container', 'cgroup')]!.root, seen);
    assert.equal(seen, '/pane-container');
  }),
);

test('a task once done stays done in its lab, though the lesson goes on to undo its state', { skip }, () =>
  withLab('uts', async (lab) => {
    const watcher = useAgent().watchers.of(lab)!;
    const status = () => watcher.tasks.find((t) => t.id === 'set-hostname')?.status;
    await watcher.tick();
    assert.equal(status(), 'pending');
    await run(lab, 'container', 'hostname -b bird');
    await watcher.tick();
    assert.equal(status(), 'done');
    await run(lab, 'container', 'hostname -b nslab');
    await watcher.tick();
    assert.equal(status(), 'done', 'still done after the hostname changed back');
    const other = await useAgent().manager.open('uts');
    try {
      const ow = useAgent().watchers.of(other)!;
      await ow.tick();
      assert.equal(ow.tasks.find((t) => t.id === 'set-hostname')?.status, 'pending', 'another lab starts afresh');
    } finally {
      await useAgent().manager.close(other.id);
    }
  }),
);

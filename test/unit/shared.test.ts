// The shared catalogue and protocol helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ClientMessage,
  LESSON_IDS,
  TIME_LESSON_OFFSET_S,
  NAMESPACES,
  NAMESPACE_TYPES,
  decodeFrame,
  describeZodError,
  encodeOutputFrame,
  encodeSnapshotFrame,
  decodeSnapshot,
  FRAME_OUTPUT,
  FRAME_SNAPSHOT,
} from '@nslab/shared';
import { loadLessons } from '@nslab/shared/content';
import { join } from 'node:path';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';

test('the shipped lessons: all nine, in both languages, host and container panes', () => {
  const lessons = loadLessons(join(REPO_ROOT, 'content/lessons'));
  assert.deepEqual(
    lessons.map((l) => l.id),
    [...LESSON_IDS],
  );
  for (const l of lessons) {
    for (const doc of Object.values(l.docs)) {
      assert.deepEqual(
        doc.panes.slice(0, 2).map((p) => p.name),
        ['host', 'container'],
      );
      assert.deepEqual(doc.panes[0]!.unshare, []);
      // The container lesson's learner makes the namespaces; every other lesson's container pane has some.
      if (l.id === 'container') assert.deepEqual(doc.panes[1]!, { name: 'container', unshare: [], delegatedCgroup: true });
      else assert.ok(doc.panes[1]!.unshare.length >= 1);
      assert.ok(doc.tasks.length >= 1 && doc.steps.length >= 1);
    }
  }
  const time = lessons.find((l) => l.id === 'time')!.docs.en.panes[1]!;
  assert.deepEqual(time.timeOffsets, { monotonic: TIME_LESSON_OFFSET_S, boottime: TIME_LESSON_OFFSET_S });
});

test('clone flags match the kernel headers', () => {
  const flags = Object.fromEntries(NAMESPACE_TYPES.map((t) => [NAMESPACES[t].flag, NAMESPACES[t].value]));
  assert.deepEqual(flags, {
    CLONE_NEWUTS: 0x04000000,
    CLONE_NEWIPC: 0x08000000,
    CLONE_NEWPID: 0x20000000,
    CLONE_NEWNS: 0x00020000,
    CLONE_NEWNET: 0x40000000,
    CLONE_NEWUSER: 0x10000000,
    CLONE_NEWCGROUP: 0x02000000,
    CLONE_NEWTIME: 0x00000080,
  });
});

test('output frames round-trip with their stream offset, including empty and binary payloads', () => {
  for (const [offset, payload] of [
    [0, new Uint8Array(0)],
    [4096, new Uint8Array([0, 255, 27, 10])],
    [2 ** 40 + 7, new TextEncoder().encode('你好')],
  ] as const) {
    const f = decodeFrame(encodeOutputFrame('abcdef123456/container', offset, payload));
    assert.ok(f);
    assert.equal(f.op, FRAME_OUTPUT);
    assert.equal(f.key, 'abcdef123456/container');
    assert.equal(f.offset, offset);
    assert.deepEqual([...f.payload], [...payload]);
  }
  assert.equal(decodeFrame(new Uint8Array([1])), null);
  assert.equal(decodeFrame(new Uint8Array([1, 200, 65])), null, 'a key longer than the frame');
  assert.equal(decodeFrame(new Uint8Array([1, 1, 65, 0, 0])), null, 'no room for the offset');
});

test('snapshot frames carry the size and the screen', () => {
  const screen = new TextEncoder().encode('\x1b[H\x1b[2J$ 你好');
  const f = decodeFrame(encodeSnapshotFrame('abcdef123456/host', 99, 132, 43, screen));
  assert.ok(f);
  assert.equal(f.op, FRAME_SNAPSHOT);
  assert.equal(f.offset, 99);
  const s = decodeSnapshot(f.payload);
  assert.ok(s);
  assert.deepEqual([s.cols, s.rows, [...s.screen]], [132, 43, [...screen]]);
  assert.equal(decodeSnapshot(new Uint8Array(3)), null);
});

test('the schemas reject what the agent must not act on, and say where', () => {
  const bad: Array<[unknown, RegExp]> = [
    [{ type: 'exec', id: 1, lab: 'abcdef', pane: 'host', argv: [] }, /argv/],
    [{ type: 'resize', lab: 'abcdef', pane: 'host', cols: 0, rows: 10 }, /cols/],
    [{ type: 'attach', id: 1, lab: 'ABC', pane: 'host', cols: 80, rows: 24 }, /lab/],
    [{ type: 'input', lab: 'abcdef', pane: 'host', data: 'x'.repeat(70_000) }, /data/],
    [{ type: 'open', id: { nested: true }, lesson: 'uts' }, /id/],
  ];
  for (const [msg, where] of bad) {
    const r = ClientMessage.safeParse(msg);
    assert.equal(r.success, false, JSON.stringify(msg).slice(0, 80));
    if (!r.success) assert.match(describeZodError(r.error), where);
  }
  assert.equal(ClientMessage.safeParse({ type: 'open', id: 'a', lesson: 'mount' }).success, true);
});

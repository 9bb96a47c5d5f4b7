// The soak's own checks, on made-up streams: a check that misses a lost byte would let a soak
// pass that should fail. No agent, no root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSnapshotFrame, decodeFrame } from '@nslab/shared';
import { PaneView, SeqCheck, seqBytes, type FaultSink, type SnapshotCause } from '../../apps/agent/src/bench/soak/pane-view.ts';

const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${from + i}\r\n`).join('');

test('seqBytes counts the bytes of seq lines on a terminal', () => {
  assert.equal(seqBytes(1, 10), 9 * 3);
  assert.equal(seqBytes(1, 101), 9 * 3 + 90 * 4 + 1 * 5);
  assert.equal(seqBytes(5, 5), 0);
  assert.equal(seqBytes(1, 2_000_001), Buffer.byteLength(lines(1, 2_000_000)));
});

test('a whole seq run, split anywhere, passes', () => {
  const s = new SeqCheck(7, 1000);
  const text = `soak-ok> echo sq$((7+0))-start; seq 1 1000\r\n\x1b[?2004l\rsq7-start\r\n${lines(1, 1000)}sq7-end\r\n\x1b[?2004hsoak-ok> `;
  for (let i = 0; i < text.length; i += 37) s.feed(text.slice(i, i + 37));
  assert.equal(s.phase, 'done');
  assert.ok(s.ok, JSON.stringify(s));
  assert.equal(s.resynced, false);
});

test('a missing, a repeated, a cut-short and a strange line are each caught', () => {
  const missing = new SeqCheck(1, 100);
  missing.feed(`sq1-start\r\n${lines(1, 40)}${lines(43, 100)}sq1-end\r\n`);
  assert.equal(missing.missing, 2);
  assert.equal(missing.lostBytes, 8);

  const repeated = new SeqCheck(2, 100);
  repeated.feed(`sq2-start\r\n${lines(1, 50)}${lines(50, 100)}sq2-end\r\n`);
  assert.equal(repeated.repeated, 1);

  const short = new SeqCheck(3, 100);
  short.feed(`sq3-start\r\n${lines(1, 90)}sq3-end\r\n`);
  assert.equal(short.missing, 10);

  const strange = new SeqCheck(4, 100);
  strange.feed(`sq4-start\r\n${lines(1, 50)}5x1\r\n${lines(52, 100)}sq4-end\r\n`);
  assert.equal(strange.ok, false);
});

test('after a snapshot, a seq run is checked from the first whole line on', () => {
  const s = new SeqCheck(5, 1000);
  s.feed(`sq5-start\r\n${lines(1, 100)}`);
  s.snapshot('...screen with 500 501 502...');
  // The output after the snapshot starts mid-line, then goes on in order.
  s.feed(`03\r\n${lines(504, 1000)}sq5-end\r\n`);
  assert.equal(s.phase, 'done');
  assert.ok(s.ok, JSON.stringify(s));
  assert.equal(s.resynced, true);
  // A gap after the snapshot is still a loss.
  const g = new SeqCheck(6, 1000);
  g.feed(`sq6-start\r\n${lines(1, 100)}`);
  g.snapshot('');
  g.feed(`03\r\n${lines(504, 700)}${lines(702, 1000)}sq6-end\r\n`);
  assert.equal(g.missing, 1);
  // The end inside the snapshot's screen: done, nothing more to check.
  const e = new SeqCheck(8, 1000);
  e.feed('sq8-start\r\n1\r\n');
  e.snapshot('998\r\n999\r\n1000\r\nsq8-end\r\nsoak-ok> ');
  assert.equal(e.phase, 'done');
  assert.equal(e.endInSnapshot, true);
});

class Sink implements FaultSink {
  lostBytes = 0;
  repeatedBytes = 0;
  snapshots: SnapshotCause[] = [];
  protocols: string[] = [];
  lost(_v: PaneView, bytes: number) {
    this.lostBytes += bytes;
  }
  repeated(_v: PaneView, bytes: number) {
    this.repeatedBytes += bytes;
  }
  snapshot(_v: PaneView, cause: SnapshotCause) {
    this.snapshots.push(cause);
  }
  protocol(_v: PaneView, detail: string) {
    this.protocols.push(detail);
  }
}

const snapshot = (offset: number, screen: string) => decodeFrame(encodeSnapshotFrame('abcdef123456/host', offset, 100, 30, Buffer.from(screen)))!.payload;

test('offsets: a gap, an overlap, output before the snapshot, and a resume are each seen', () => {
  const sink = new Sink();
  const acks: number[] = [];
  const v = new PaneView('abcdef123456', 'host', 'test', sink);
  v.beginAttach((m) => acks.push(m.offset as number), undefined);
  v.snapshotFrame(100, snapshot(100, 'hello'));
  v.output(100, Buffer.from('abc'));
  v.output(103, Buffer.from('def'));
  assert.equal(sink.lostBytes + sink.repeatedBytes, 0);
  v.output(110, Buffer.from('x')); // 4 bytes never came
  assert.equal(sink.lostBytes, 4);
  v.output(109, Buffer.from('yz')); // 2 bytes again
  assert.equal(sink.repeatedBytes, 2);
  assert.deepEqual(sink.snapshots, ['attach']);
  // A resume: output must continue exactly at `from`.
  v.detached();
  v.beginAttach(() => {}, v.expected!);
  assert.equal(v.attached({ replay: 'resume', offset: 111 }, 111), null);
  assert.match(v.attached({ replay: 'resume', offset: 90 }, 111) ?? '', /resume at 90/);
  v.output(111, Buffer.from('!'));
  assert.equal(sink.lostBytes, 4);
  // Output before the snapshot an attach announced.
  v.beginAttach(() => {}, undefined);
  v.output(200, Buffer.from('?'));
  assert.equal(sink.protocols.length, 1);
  // A marker is found across frames and in a snapshot's screen.
  const w = v.watch('mk12-');
  v.output(201, Buffer.from('.. mk1'));
  v.output(207, Buffer.from('2-\r\n'));
  assert.equal(w.found, true);
  const w2 = v.watch('soak-ok>');
  v.snapshotFrame(300, snapshot(300, 'soak-ok> '));
  assert.equal(w2.found, true);
  assert.deepEqual(sink.snapshots, ['attach', 'catch-up']);
});

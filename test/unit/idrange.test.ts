import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdRanges } from '../../apps/agent/src/sandbox/idrange.ts';

test('id ranges never overlap and are reused after release', () => {
  const r = new IdRanges(100000, 65536, 3);
  const a = r.allocate()!;
  const b = r.allocate()!;
  const c = r.allocate()!;
  assert.deepEqual([a.base, b.base, c.base], [100000, 165536, 231072]);
  assert.equal(r.allocate(), null, 'no fourth range');
  r.release(b.slot);
  assert.equal(r.allocate()!.base, 165536);
  assert.ok(r.contains(100000) && r.contains(296607) && !r.contains(99999) && !r.contains(296608));
});

test('ranges that would not fit in 32-bit ids are refused', () => {
  assert.throws(() => new IdRanges(4_000_000_000, 65536, 10_000), /32 bits/);
});

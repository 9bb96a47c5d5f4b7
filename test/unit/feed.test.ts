// The page's flow control (apps/web/lib/feed.ts): acknowledgements from xterm's write callbacks,
// sent again while output came in lately, so a lost one cannot leave the pane held.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { encodeOutputFrame, encodeSnapshotFrame, decodeFrame } from '@nslab/shared';
import { PaneFeed, type FeedTerm } from '../../apps/web/lib/feed.ts';

function fakeTerm(): FeedTerm {
  return { write: (_d, cb) => cb?.(), reset() {}, resize() {}, cols: 80, rows: 24 };
}

test('a rendered offset is acknowledged, and acknowledged again while output came in lately', () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'] });
  try {
    const acks: number[] = [];
    const feed = new PaneFeed(fakeTerm(), { ack: (o) => acks.push(o), gap: () => assert.fail('no gap') });
    feed.frame(decodeFrame(encodeSnapshotFrame('l/p', 0, 80, 24, Buffer.from('')))!);
    feed.frame(decodeFrame(encodeOutputFrame('l/p', 0, Buffer.from('hello')))!);
    mock.timers.tick(60);
    assert.deepEqual(acks, [5], 'acknowledged once the trickle paused');
    // The agent may not have got it: the same offset again, once a second, for a while.
    mock.timers.tick(1000);
    mock.timers.tick(1000);
    assert.deepEqual(acks, [5, 5, 5]);
    mock.timers.tick(10_000);
    const n = acks.length;
    mock.timers.tick(5000);
    assert.equal(acks.length, n, 'and then no more: nothing came in for a while');
    feed.dispose();
  } finally {
    mock.timers.reset();
  }
});

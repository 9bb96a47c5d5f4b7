// The agent's screens (a headless xterm.js per pane, in the screen worker): a snapshot shows what
// was written, and a snapshot asked for just before its pane closes is still answered (an attach
// that races a lab's close, as the soak found, must not hang).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Screen } from '../../apps/agent/src/pty/screen.ts';

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

/** Lots of output for the worker to parse: `lines` numbered lines, fed in 64 KiB chunks. */
function feed(screen: Screen, lines: number): number {
  let text = '';
  for (let i = 1; i <= lines; i++) text += `line ${i} of the flood, with some colour \x1b[32mgreen\x1b[0m\r\n`;
  const all = Buffer.from(text);
  for (let at = 0; at < all.length; at += 65536) screen.write(all.subarray(at, at + 65536), Math.min(all.length, at + 65536));
  return all.length;
}

test('a snapshot shows everything written before it', async () => {
  const screen = new Screen(80, 24, 100, () => {});
  try {
    const end = feed(screen, 2000);
    const snap = await within(new Promise<{ screen: string; offset: number }>((r) => screen.snapshot(r)), 20_000, 'snapshot');
    assert.equal(snap.offset, end);
    assert.match(snap.screen, /line 2000 of the flood/);
  } finally {
    screen.dispose();
  }
});

test('a snapshot asked for just before the screen closes is answered, blank, at once; other screens keep theirs', async () => {
  const other = new Screen(80, 24, 100, () => {});
  other.write(Buffer.from('the other pane keeps this line\r\n'), 32);
  for (let round = 0; round < 3; round++) {
    const screen = new Screen(100, 30, 1000, () => {});
    const end = feed(screen, 100_000); // several MB: the worker is still parsing when the close comes
    const asked = new Promise<{ screen: string; offset: number; cols: number; rows: number }>((r) => screen.snapshot(r));
    screen.dispose();
    const snap = await within(asked, 20_000, 'the snapshot of a closing screen');
    assert.equal(snap.offset, end, 'it says how far the stream went');
    assert.equal(snap.cols, 100);
    assert.equal(snap.rows, 30);
  }
  // The close did not take the worker down with it (that would blank every pane's screen).
  const kept = await within(new Promise<{ screen: string }>((r) => other.snapshot(r)), 20_000, 'the other screen');
  other.dispose();
  assert.match(kept.screen, /the other pane keeps this line/);
});

// Flow control with more than one client, and with clients that stop acknowledging: no client
// can freeze a pane for the one the learner uses, a writer whose acknowledgements stop holds its
// pane for a bounded time only, and output nobody acknowledges is paced. Real shells, real
// WebSockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { FLOW_HIGH_BYTES, FRAME_OUTPUT, FRAME_SNAPSHOT } from '@nslab/shared';
import { PACE_BYTES, PACE_WINDOW_MS } from '../../apps/agent/src/sandbox/pane.ts';
import { WRITER_STALE_MS } from '../../apps/agent/src/server/stream.ts';
import { useTestAgent } from '../helpers/agent.ts';
import { TestClient } from '../helpers/ws.ts';
import { sleep, waitFor } from '../helpers/wait.ts';
import { rootOrSkip } from '../helpers/env.ts';

const skip = rootOrSkip();
const useAgent = useTestAgent(skip, { graceMs: 60_000 });

const type = (c: TestClient, lab: string, pane: string, data: string) => c.send({ type: 'input', lab, pane, data });
const bytesOf = (c: TestClient, key: string) => c.frames.filter((f) => f.key === key && f.op === FRAME_OUTPUT).reduce((n, f) => n + f.payload.length, 0);
const tail = (c: TestClient, key: string, n = 30) =>
  Buffer.concat(
    c.frames
      .filter((f) => f.key === key)
      .slice(-n)
      .map((f) => f.payload),
  ).toString('latin1');

function yesRunning(uidBase: number): boolean {
  try {
    return (
      execFileSync('pgrep', ['-x', 'yes', '-u', String(uidBase)])
        .toString()
        .trim() !== ''
    );
  } catch {
    return false;
  }
}

test('a second writer that never acknowledges cannot freeze the pane for the one in use', { skip }, async () => {
  const agent = useAgent();
  const inUse = await TestClient.connect(agent.url, agent.token);
  const lab = (await inUse.request({ type: 'open', lesson: 'uts' })).data.id as string;
  const key = `${lab}/host`;
  await inUse.request({ type: 'attach', lab, pane: 'host', cols: 100, rows: 30 });
  // A second tab, attached later (so the last writer to arrive), that never acknowledges: a tab
  // in the background, a laptop gone to sleep.
  const silent = await TestClient.connect(agent.url, agent.token);
  silent.autoAck = false;
  await silent.request({ type: 'attach', lab, pane: 'host', cols: 100, rows: 30 });
  // The learner types in the first: its acknowledgements pace the pane.
  type(inUse, lab, 'host', 'yes flood\n');
  await waitFor('4 MB of output to the tab in use', () => bytesOf(inUse, key) > 8 * FLOW_HIGH_BYTES, 30_000);
  type(inUse, lab, 'host', '\x03');
  type(inUse, lab, 'host', 'echo stopped-$((6*7))\n');
  await waitFor('the prompt after Ctrl-C', () => tail(inUse, key).includes('stopped-42'));
  assert.equal(yesRunning(agent.manager.get(lab)!.uidBase), false);
  // Offsets stayed contiguous for the client in use: nothing lost, nothing twice.
  const frames = inUse.frames.filter((f) => f.key === key && f.op === FRAME_OUTPUT);
  for (let i = 1; i < frames.length; i++) assert.equal(frames[i]!.offset, frames[i - 1]!.offset + frames[i - 1]!.payload.length);
  // The silent tab fell behind and was skipped; acknowledging again brings it to the screen as it is.
  silent.autoAck = true;
  const last = silent.frames.filter((f) => f.key === key && f.op === FRAME_OUTPUT).at(-1)!;
  silent.send({ type: 'ack', lab, pane: 'host', offset: last.offset + last.payload.length });
  await waitFor(
    'the silent tab to catch up',
    () => silent.frames.some((f) => f.key === key && f.op === FRAME_SNAPSHOT && f.offset > last.offset) || tail(silent, key).includes('stopped-42'),
  );
  inUse.close();
  silent.close();
  await agent.manager.close(lab);
});

test('a writer whose acknowledgements stop holds its pane for a bounded time, then the pane is paced and Ctrl-C still works', { skip }, async () => {
  const agent = useAgent();
  const c = await TestClient.connect(agent.url, agent.token);
  c.autoAck = false;
  const lab = (await c.request({ type: 'open', lesson: 'uts' })).data.id as string;
  const l = agent.manager.get(lab)!;
  const pane = l.pane('host')!;
  await c.request({ type: 'attach', lab, pane: 'host', cols: 100, rows: 30 });
  type(c, lab, 'host', 'yes flood\n');
  await waitFor('the pane to be held by its writer', () => pane.paused && bytesOf(c, `${lab}/host`) > FLOW_HIGH_BYTES);
  const heldAt = pane.offset;
  // Past the bound the writer is stale: it lets go, and the pane is read again, paced.
  await waitFor('the writer to let go', () => pane.paced, WRITER_STALE_MS * 4);
  await waitFor('output to flow again, paced', () => pane.offset > heldAt + 2 * PACE_BYTES, 30_000);
  type(c, lab, 'host', '\x03');
  await waitFor('yes to stop', () => !yesRunning(l.uidBase));
  // Acknowledging again: the client is in charge again and gets the screen with the prompt.
  c.autoAck = true;
  const last = c.frames.filter((f) => f.op === FRAME_OUTPUT).at(-1)!;
  c.send({ type: 'ack', lab, pane: 'host', offset: last.offset + last.payload.length });
  type(c, lab, 'host', 'echo back-$((6*7))\n');
  await waitFor('the prompt for the client', () => tail(c, `${lab}/host`).includes('back-42'));
  assert.equal(pane.paced, false, 'an acknowledging writer paces the pane again');
  c.close();
  await agent.manager.close(lab);
});

test('a pane nobody is attached to is paced: its program blocks instead of being read at full speed', { skip }, async () => {
  const agent = useAgent();
  const lab = await agent.manager.open('uts');
  const pane = lab.pane('host')!;
  assert.equal(pane.paced, true, 'no writer: paced');
  pane.write('yes paced-output\n');
  await waitFor('output', () => pane.offset > 2 * PACE_BYTES);
  const t0 = performance.now();
  const o0 = pane.offset;
  await sleep(2000);
  const windows = Math.ceil((performance.now() - t0) / PACE_WINDOW_MS) + 2;
  // At most one window's budget per window, plus one read of slack.
  assert.ok(pane.offset - o0 <= (windows + 1) * PACE_BYTES, `read ${pane.offset - o0} bytes in ${windows} windows`);
  assert.ok(pane.offset > o0, 'but it is read: never frozen');
  assert.ok(yesRunning(lab.uidBase), 'yes runs, blocked in its terminal when over the pace');
  pane.write('\x03');
  await waitFor('yes to stop', () => !yesRunning(lab.uidBase));
  await agent.manager.close(lab.id);
});

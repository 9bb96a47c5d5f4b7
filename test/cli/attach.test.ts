// nslab attach against a fake agent, in-process, with a fake terminal: raw mode, resize, input,
// output frames, detach with Ctrl-], pane exit, connection drop, and terminal restore in each case.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { beforeEach, describe, test } from 'node:test';
import { terminalSize } from '../../apps/agent/src/cli/attach.ts';
import { splitInput } from '@nslab/shared';
import { runCli } from '../../apps/agent/src/cli/run.ts';
import { type FakeAgent, useFakeAgent } from './fake-agent.ts';
import { Capture, FakeTty } from './streams.ts';

/** No test may hang: a missed event fails it instead. */
const T = { timeout: 10000 };

const LAB = 'attach001';

function startAttach(agent: FakeAgent, opts: { lab?: string; pane?: string; stdin?: FakeTty; size?: { columns: number; rows: number } } = {}) {
  const stdin = opts.stdin ?? new FakeTty();
  const stdout = new Capture(opts.size ?? { columns: 120, rows: 40 });
  const stderr = new Capture();
  const signals = new EventEmitter();
  const done = runCli(['attach', opts.lab ?? LAB, opts.pane ?? 'host'], {
    stdin,
    stdout,
    stderr,
    env: agent.env(),
    tokenFile: '/nonexistent/nslab-token',
    signals,
  });
  return { stdin, stdout, stderr, signals, done };
}

/** Wait until cond() is true (polling; the data flows through real sockets). */
async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('nslab attach', () => {
  const fake = useFakeAgent();
  let agent: FakeAgent;
  beforeEach(() => {
    agent = fake();
  });

  test('bridges input and output, resizes, exits with the pane, restores the terminal', T, async () => {
    agent.addLab('uts', LAB);
    const t = startAttach(agent);

    const attachMsg = await agent.waitFor((m) => m.type === 'attach' && m.lab === LAB);
    assert.ok(attachMsg.type === 'attach');
    assert.deepEqual([attachMsg.pane, attachMsg.cols, attachMsg.rows], ['host', 120, 40]);
    // A resize on start, with the terminal's size.
    const first = await agent.waitFor((m) => m.type === 'resize' && m.conn === attachMsg.conn);
    assert.ok(first.type === 'resize');
    assert.deepEqual([first.cols, first.rows], [120, 40]);

    await until(() => t.stdin.isRaw, 'raw mode');
    assert.deepEqual(t.stdin.rawModeCalls, [true]);
    await until(() => t.stdout.text().includes('welcome'), 'the first output frame');

    // Keys go out as input messages (UTF-8 strings, multi-byte characters split across chunks too).
    t.stdin.write('ls -l\r');
    const euro = Buffer.from('\u20ac');
    t.stdin.write(euro.subarray(0, 1));
    t.stdin.write(euro.subarray(1));
    await agent.waitFor((m) => m.type === 'input' && m.data === 'ls -l\r');
    await until(() => t.stdout.text().includes('echo:ls -l\r'), 'the echoed input');
    await until(
      () =>
        agent.received
          .filter((m) => m.type === 'input')
          .map((m) => (m.type === 'input' ? m.data : ''))
          .join('')
          .includes('\u20ac'),
      'the euro sign',
    );
    assert.ok(!agent.received.some((m) => m.type === 'input' && m.data.includes('\ufffd')), 'no broken UTF-8');

    // Output for another pane is not shown.
    agent.sendFrame(`${LAB}/container`, 'NOT-MINE');
    agent.sendFrame(`${LAB}/host`, Buffer.from([0x1b, 0x5b, 0x48, 0xff]));
    await until(() => t.stdout.bytes().includes(Buffer.from([0x1b, 0x5b, 0x48, 0xff])), 'raw output bytes');
    assert.ok(!t.stdout.text().includes('NOT-MINE'));

    // SIGWINCH: the new size goes to the pane.
    t.stdout.columns = 100;
    t.stdout.rows = 30;
    t.signals.emit('SIGWINCH');
    const resized = await agent.waitFor((m) => m.type === 'resize' && m.cols === 100 && m.rows === 30);
    assert.ok(resized);

    // The pane exits: nslab exits with its status, says so, and the terminal is back to normal.
    agent.broadcast({ type: 'pane-exit', lab: LAB, pane: 'host', exitCode: 3, signal: null });
    const code = await t.done;
    assert.equal(code, 3);
    assert.match(t.stderr.text(), /^nslab: pane attach001\/host exited \(code 3\)\n$/);
    assert.deepEqual(t.stdin.rawModeCalls, [true, false]);
    assert.equal(t.stdin.isRaw, false);
    assert.equal(t.stdin.listenerCount('data'), 0, 'stdin listener removed');
    assert.equal(t.signals.listenerCount('SIGWINCH'), 0, 'SIGWINCH listener removed');
    assert.equal(t.signals.listenerCount('SIGINT'), 0, 'SIGINT listener removed');
  });

  test('a snapshot redraws the screen; output is acknowledged once written', T, async () => {
    agent.addLab('uts', LAB);
    const t = startAttach(agent);
    await until(() => t.stdout.text().includes('welcome'), 'the first output frame');
    const ackOf = (offset: number) => agent.waitFor((m) => m.type === 'ack' && m.lab === LAB && m.pane === 'host' && m.offset === offset);
    await ackOf('welcome\r\n$ '.length);
    agent.sendSnapshot(`${LAB}/host`, 5000, 120, 40, 'SCREEN-AS-IT-WAS');
    await until(() => t.stdout.text().includes('SCREEN-AS-IT-WAS'), 'the snapshot');
    assert.ok(t.stdout.text().includes('\x1b[H\x1b[2JSCREEN-AS-IT-WAS'), 'drawn on a cleared screen');
    agent.sendFrame(`${LAB}/host`, 'after');
    await ackOf(5005);
    t.stdin.write('\x1d');
    assert.equal(await t.done, 0);
  });

  test('Ctrl-] detaches: bytes before it are sent, exit 0, terminal restored', T, async () => {
    agent.addLab('uts', 'attach002');
    const t = startAttach(agent, { lab: 'attach002' });
    await until(() => t.stdout.text().includes('welcome'), 'attached');
    const before = agent.received.length;
    t.stdin.write(Buffer.from([0x61, 0x62, 0x1d, 0x63]));
    const code = await t.done;
    assert.equal(code, 0);
    assert.match(t.stderr.text(), /detached from attach002\/host/);
    await agent.waitFor((m) => m.type === 'detach' && m.lab === 'attach002');
    const inputs = agent.received.slice(before).filter((m) => m.type === 'input');
    assert.deepEqual(
      inputs.map((m) => (m.type === 'input' ? m.data : '')),
      ['ab'],
      'only the bytes before Ctrl-] are sent',
    );
    assert.deepEqual(t.stdin.rawModeCalls, [true, false]);
  });

  test('the connection dropping: a clear message, exit 1, terminal restored', T, async () => {
    agent.addLab('uts', 'attach003');
    const t = startAttach(agent, { lab: 'attach003' });
    await until(() => t.stdout.text().includes('welcome'), 'attached');
    agent.dropAll();
    const code = await t.done;
    assert.equal(code, 1);
    assert.match(t.stderr.text(), /^nslab: lost the connection to the agent at http:\/\/127\.0\.0\.1:\d+/);
    assert.deepEqual(t.stdin.rawModeCalls, [true, false]);
  });

  test('the lab being closed ends the session with exit 1', T, async () => {
    agent.addLab('uts', 'attach004');
    const t = startAttach(agent, { lab: 'attach004' });
    await until(() => t.stdout.text().includes('welcome'), 'attached');
    agent.broadcast({ type: 'lab-closed', lab: 'attach004', reason: 'idle timeout' });
    assert.equal(await t.done, 1);
    assert.match(t.stderr.text(), /lab attach004 was closed \(idle timeout\)/);
    assert.deepEqual(t.stdin.rawModeCalls, [true, false]);
  });

  test('a pane killed by a signal exits 128+signal', T, async () => {
    agent.addLab('uts', 'attach005');
    const t = startAttach(agent, { lab: 'attach005' });
    await until(() => t.stdout.text().includes('welcome'), 'attached');
    agent.broadcast({ type: 'pane-exit', lab: 'attach005', pane: 'container', exitCode: 0, signal: null }); // another pane: ignored
    agent.broadcast({ type: 'pane-exit', lab: 'attach005', pane: 'host', exitCode: null, signal: 9 });
    assert.equal(await t.done, 137);
    assert.match(t.stderr.text(), /exited \(SIGKILL\)/);
  });

  test('a pane exit without a status (a PID-namespace init) exits 0', T, async () => {
    agent.addLab('pid', 'attach008');
    const t = startAttach(agent, { lab: 'attach008', pane: 'container' });
    await until(() => t.stdout.text().includes('welcome'), 'attached');
    agent.broadcast({ type: 'pane-exit', lab: 'attach008', pane: 'container', exitCode: null, signal: null });
    assert.equal(await t.done, 0);
    assert.equal(t.stderr.text(), 'nslab: pane attach008/container exited\n');
  });

  test('SIGTERM ends the session and restores the terminal', T, async () => {
    agent.addLab('uts', 'attach006');
    const t = startAttach(agent, { lab: 'attach006' });
    await until(() => t.stdout.text().includes('welcome'), 'attached');
    t.signals.emit('SIGTERM');
    assert.equal(await t.done, 143);
    assert.deepEqual(t.stdin.rawModeCalls, [true, false]);
  });

  test('an attach error is reported and the terminal is never put in raw mode', T, async () => {
    const lab = agent.addLab('uts', 'attach007');
    lab.panes[0]!.running = false;
    const t = startAttach(agent, { lab: 'attach007' });
    assert.equal(await t.done, 1);
    assert.equal(t.stderr.text(), 'nslab: pane host is not running\n');
    assert.deepEqual(t.stdin.rawModeCalls, []);
  });

  test('an unknown lab is reported with exit 1', T, async () => {
    const t = startAttach(agent, { lab: 'nosuchlab' });
    assert.equal(await t.done, 1);
    assert.equal(t.stderr.text(), 'nslab: there is no lab nosuchlab\n');
  });
});

describe('attach helpers', () => {
  test('terminalSize: the terminal size, clamped; 80x24 without a terminal', () => {
    assert.deepEqual(terminalSize({ write: () => true, columns: 132, rows: 50 }), { cols: 132, rows: 50 });
    assert.deepEqual(terminalSize({ write: () => true }), { cols: 80, rows: 24 });
    assert.deepEqual(terminalSize({ write: () => true, columns: 5000, rows: 0 }), { cols: 80, rows: 24 });
    assert.deepEqual(terminalSize({ write: () => true, columns: 5000, rows: 9000 }), { cols: 1000, rows: 500 });
  });

  test('splitInput keeps surrogate pairs whole', () => {
    const s = 'a'.repeat(3) + '\u{1f600}' + 'b';
    const parts = splitInput(s, 4);
    assert.equal(parts.join(''), s);
    for (const p of parts) assert.ok(p.length <= 4);
    assert.ok(!parts.some((p) => /[\ud800-\udbff]$/.test(p)), 'no part ends in a lone high surrogate');
  });
});

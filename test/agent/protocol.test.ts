// The WebSocket API under good and bad input: every malformed message class gets an error that
// names what was wrong, and the connection and the agent survive.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { RunningAgent } from '../../apps/agent/src/server/agent.ts';
import { startTestAgent } from '../helpers/agent.ts';
import { TestClient } from '../helpers/ws.ts';
import { rootOrSkip } from '../helpers/env.ts';

const skip = rootOrSkip('the protocol tests');

let agent: RunningAgent;
let c: TestClient;
let labId: string;

async function healthy() {
  const res = await fetch(`${agent.url}/healthz`);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).ok, true);
}

before(async () => {
  if (skip) return;
  agent = await startTestAgent();
  c = await TestClient.connect(agent.url, agent.token);
  const opened = await c.request({ type: 'open', lesson: 'uts' });
  assert.equal(opened.type, 'result', JSON.stringify(opened));
  labId = opened.data.id;
});

after(async () => {
  if (skip) return;
  c?.close();
  await agent.close();
});

test('healthz answers JSON', { skip }, async () => {
  await healthy();
});

test('a wrong token in the upgrade is refused with 401', { skip }, async () => {
  await assert.rejects(TestClient.connect(agent.url, 'wrong'), /HTTP 401/);
});

test('without a token: hello says unauthenticated, requests are refused, a wrong auth closes', { skip }, async () => {
  const anon = await TestClient.connect(agent.url);
  const hello = await anon.waitFor((m) => m.type === 'hello');
  assert.equal(hello.authenticated, false);
  const r = await anon.request({ type: 'list' });
  assert.equal(r.code, 'unauthenticated');
  anon.send({ type: 'auth', token: 'nope' });
  const closed = await anon.waitClosed();
  assert.equal(closed.code, 4001);
  const good = await TestClient.connect(agent.url);
  good.send({ type: 'auth', id: 1, token: agent.token });
  await good.waitFor((m) => m.type === 'result' && m.id === 1);
  assert.equal((await good.request({ type: 'list' })).type, 'result');
  good.close();
});

test('lessons and list', { skip }, async () => {
  const lessons = await c.request({ type: 'lessons' });
  assert.deepEqual(
    lessons.data.map((l: { id: string }) => l.id),
    ['uts', 'ipc', 'pid', 'mount', 'net', 'user', 'cgroup', 'time', 'container'],
  );
  const list = await c.request({ type: 'list' });
  assert.ok(list.data.some((l: { id: string }) => l.id === labId));
});

test('exec returns stdout, stderr and the exit code', { skip }, async () => {
  const r = await c.request({ type: 'exec', lab: labId, pane: 'host', argv: ['sh', '-c', 'echo out; echo err >&2; exit 7'] });
  assert.equal(r.type, 'result');
  assert.equal(Buffer.from(r.data.stdout, 'base64').toString(), 'out\n');
  assert.equal(Buffer.from(r.data.stderr, 'base64').toString(), 'err\n');
  assert.equal(r.data.exitCode, 7);
  const withStdin = await c.request({ type: 'exec', lab: labId, pane: 'host', argv: ['cat'], stdin: Buffer.from('piped').toString('base64') });
  assert.equal(Buffer.from(withStdin.data.stdout, 'base64').toString(), 'piped');
  const missing = await c.request({ type: 'exec', lab: labId, pane: 'host', argv: ['no-such-command-x'] });
  assert.equal(missing.data.exitCode, 127);
  const timed = await c.request({ type: 'exec', lab: labId, pane: 'host', argv: ['sleep', '30'], timeoutMs: 300 });
  assert.equal(timed.data.timedOut, true);
  assert.equal(timed.data.signal, 9);
});

test('attach streams the PTY as binary frames; input reaches the shell', { skip }, async () => {
  const r = await c.request({ type: 'attach', lab: labId, pane: 'container', cols: 80, rows: 24 });
  assert.equal(r.type, 'result');
  c.send({ type: 'input', lab: labId, pane: 'container', data: 'echo $((6*7))-marker\n' });
  const deadline = Date.now() + 10_000;
  let text = '';
  while (Date.now() < deadline && !/42-marker/.test(text)) {
    text = Buffer.concat(c.frames.filter((f) => f.key === `${labId}/container`).map((f) => f.payload)).toString();
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.match(text, /42-marker/);
  // A second client attaching later sees what the shell printed before it came.
  const late = await TestClient.connect(agent.url, agent.token);
  await late.request({ type: 'attach', lab: labId, pane: 'container', cols: 80, rows: 24 });
  const replay = Buffer.concat(late.frames.map((f) => f.payload)).toString();
  assert.match(replay, /42-marker/);
  late.close();
  c.send({ type: 'resize', lab: labId, pane: 'container', cols: 120, rows: 40 });
  const size = await c.request({
    type: 'exec',
    lab: labId,
    pane: 'container',
    argv: ['sh', '-c', 'stty size < /dev/pts/$(basename $(readlink /proc/1/fd/0) 2>/dev/null || echo 0) 2>/dev/null || true'],
  });
  assert.equal(size.type, 'result');
});

test('malformed messages get errors that say what was wrong', { skip }, async () => {
  c.send('{not json');
  assert.equal((await c.waitFor((m) => m.type === 'error' && m.code === 'bad-json')).id, null);
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ type: 'nope' }, 'bad-message', /type/],
    [{ type: 'open', lesson: 'Kernel!' }, 'bad-message', /lesson/],
    [{ type: 'open', lesson: 'kernel' }, 'unknown-lesson', /no lesson "kernel" \(lessons: uts, ipc/],
    [{ type: 'exec', lab: labId, pane: 'host', argv: 'ls' }, 'bad-message', /argv/],
    [{ type: 'exec', lab: 'zzzzzzzz', pane: 'host', argv: ['ls'] }, 'unknown-lab', /zzzzzzzz/],
    [{ type: 'exec', lab: labId, pane: 'ghost', argv: ['ls'] }, 'unknown-pane', /ghost/],
    [{ type: 'resize', lab: labId, pane: 'host', cols: 100000, rows: 10 }, 'bad-message', /cols/],
    [{ type: 'resize', lab: labId, pane: 'host', cols: -1, rows: 10 }, 'bad-message', /cols/],
    [{ type: 'close', lab: '../../etc' }, 'bad-message', /lab/],
  ];
  for (const [msg, code, text] of cases) {
    const r = await c.request(msg);
    assert.equal(r.type, 'error', JSON.stringify(msg));
    assert.equal(r.code, code, JSON.stringify(r));
    assert.match(r.message, text);
  }
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  await c.waitFor((m) => m.type === 'error' && /binary/.test(m.message));
  await healthy();
});

test('a flood of messages is answered and the agent stays healthy', { skip }, async () => {
  const n = 2000;
  const base = 500_000;
  for (let i = 0; i < n; i++) c.send({ type: i % 2 ? 'list' : 'bogus', id: base + i });
  await c.waitFor((m) => m.id === base + n - 1, 30_000);
  const answered = c.messages.filter((m) => typeof m.id === 'number' && m.id >= base && m.id < base + n).length;
  assert.equal(answered, n);
  await healthy();
});

test('a huge frame closes that connection only', { skip }, async () => {
  const big = await TestClient.connect(agent.url, agent.token);
  big.send('x'.repeat(2 * 1024 * 1024));
  const closed = await big.waitClosed();
  assert.equal(closed.code, 1009);
  await healthy();
  assert.equal((await c.request({ type: 'list' })).type, 'result', 'other connections carry on');
});

test('closing the lab over the API', { skip }, async () => {
  const r = await c.request({ type: 'close', lab: labId });
  assert.deepEqual(r.data, { closed: true });
  const again = await c.request({ type: 'close', lab: labId });
  assert.equal(again.code, 'unknown-lab');
});

test('other upgrade paths are not the API', { skip }, async () => {
  const ws = new WebSocket(agent.url.replace('http', 'ws') + '/not-the-api');
  const outcome = await new Promise<string>((r) => {
    ws.once('open', () => r('open'));
    ws.once('error', () => r('refused'));
  });
  assert.equal(outcome, 'refused');
});

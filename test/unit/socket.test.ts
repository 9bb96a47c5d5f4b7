// The page's WebSocket (apps/web/lib/socket.ts) on the shared client core: answers typed and
// checked, every pending request failed with code 'connection' when the connection goes, an
// agent of another protocol version left at its hello, late events of an old connection ignored.
// A fake WebSocket stands in for the browser's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOCOL_VERSION } from '@nslab/shared';

class FakeSocket {
  static readonly OPEN = 1;
  static all: FakeSocket[] = [];
  readyState = 0;
  binaryType = 'blob';
  sent: Record<string, unknown>[] = [];
  closedBy: { code?: number; reason?: string } | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(text: string) {
    this.sent.push(JSON.parse(text));
  }
  close(code?: number, reason?: string) {
    this.closedBy = { code, reason };
    this.readyState = 3;
  }
  // The agent's side.
  accept() {
    this.readyState = 1;
  }
  deliver(msg: unknown) {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  hangUp(code = 1006, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const g = globalThis as Record<string, unknown>;
g.WebSocket = FakeSocket;
g.location = { protocol: 'http:', host: 'lab.test' };
g.window = { addEventListener() {}, removeEventListener() {} };
g.document = { addEventListener() {}, removeEventListener() {}, visibilityState: 'visible' };

const { AgentSocket, AgentError } = await import('../../apps/web/lib/socket.ts');

function harness() {
  const seen = { hellos: 0, messages: [] as { type: string }[], closed: [] as (string | null)[] };
  const socket = new AgentSocket({
    connecting() {},
    hello: () => seen.hellos++,
    message: (m) => seen.messages.push(m),
    frame() {},
    closed: (why) => seen.closed.push(why),
    countdown() {},
  });
  socket.start();
  const ws = FakeSocket.all.at(-1)!;
  ws.accept();
  const hello = { type: 'hello', version: PROTOCOL_VERSION, versions: [PROTOCOL_VERSION], authenticated: true };
  return { socket, ws, seen, hello };
}

const LAB = { id: 'abcdef12', lesson: 'uts', createdAt: '2026-01-01T00:00:00Z', hostname: 'nslab', uidBase: 100000, panes: [] };

test('a request gets the typed answer to its id; an answer of the wrong shape is refused', async () => {
  const { socket, ws, seen, hello } = harness();
  ws.deliver(hello);
  assert.equal(seen.hellos, 1);
  assert.match(ws.url, new RegExp(`^ws://lab\\.test/api/ws\\?v=${PROTOCOL_VERSION}$`));
  const opened = socket.request({ type: 'open', lesson: 'uts' });
  const sent = ws.sent.at(-1)!;
  assert.equal(sent.type, 'open');
  ws.deliver({ type: 'result', id: sent.id, data: LAB });
  const lab = await opened;
  assert.equal(lab.id, LAB.id);

  const listed = socket.request({ type: 'list' });
  ws.deliver({ type: 'result', id: ws.sent.at(-1)!.id, data: { not: 'a list' } });
  await assert.rejects(listed, (e: unknown) => e instanceof AgentError && e.code === 'bad-answer');

  const closed = socket.request({ type: 'close', lab: LAB.id });
  ws.deliver({ type: 'error', id: ws.sent.at(-1)!.id, code: 'unknown-lab', message: 'no such lab' });
  await assert.rejects(closed, (e: unknown) => e instanceof AgentError && e.code === 'unknown-lab' && e.message === 'no such lab');

  // Events go to the page; a message this page does not know is dropped.
  ws.deliver({ type: 'pane-exit', lab: LAB.id, pane: 'host', exitCode: 3, signal: null });
  ws.deliver({ type: 'from-the-future', lab: LAB.id });
  assert.deepEqual(
    seen.messages.map((m) => m.type),
    ['pane-exit'],
  );
  socket.stop();
});

test('a lost connection fails every pending request with code connection, and requests without one too', async () => {
  const { socket, ws, seen, hello } = harness();
  ws.deliver(hello);
  const pending = [socket.request({ type: 'list' }), socket.request({ type: 'watch', lab: LAB.id })];
  ws.hangUp();
  for (const p of pending) await assert.rejects(p, (e: unknown) => e instanceof AgentError && e.code === 'connection');
  assert.deepEqual(seen.closed, [null]);
  await assert.rejects(socket.request({ type: 'list' }), (e: unknown) => e instanceof AgentError && e.code === 'connection');
  assert.equal(socket.send({ type: 'focus', lab: LAB.id, pane: 'host' }), false, 'nothing sent without a connection');
  socket.stop();
});

test('an agent of another protocol version is left at its hello, and its close is not reported twice', () => {
  const { socket, ws, seen } = harness();
  ws.deliver({ type: 'hello', version: PROTOCOL_VERSION + 1, versions: [PROTOCOL_VERSION + 1], authenticated: true });
  assert.equal(seen.hellos, 0);
  assert.equal(seen.closed.length, 1);
  assert.match(seen.closed[0]!, new RegExp(`speaks protocol ${PROTOCOL_VERSION + 1}`));
  assert.ok(ws.closedBy, 'the page closed the connection');
  ws.hangUp(4002, 'unsupported protocol version');
  assert.equal(seen.closed.length, 1);
  socket.stop();
});

test('the agent closing with 4002 says why; events of an old connection are ignored after a restart', () => {
  const { socket, ws, seen, hello } = harness();
  ws.hangUp(4002, 'unsupported protocol version');
  assert.deepEqual(seen.closed, ['unsupported protocol version']);
  socket.restart();
  const next = FakeSocket.all.at(-1)!;
  assert.notEqual(next, ws);
  next.accept();
  ws.deliver(hello);
  assert.equal(seen.hellos, 0, 'the old connection is not heard');
  next.deliver(hello);
  assert.equal(seen.hellos, 1);
  socket.stop();
});

// A fake nslab agent for the CLI tests: a real `ws` WebSocketServer on 127.0.0.1:<random port> that
// speaks the protocol from @nslab/shared, checks the token, validates every client message against
// the ClientMessage schema, and answers with canned data.
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  ClientMessage,
  LESSON_IDS,
  PROTOCOL_VERSION,
  WS_PATH,
  describeZodError,
  encodeOutputFrame,
  encodeSnapshotFrame,
  type ExecResult,
  type LabInfo,
} from '@nslab/shared';

/** The lessons this fake agent offers: titles and panes, as a real agent reads them from content files. */
export const FAKE_LESSONS: Record<(typeof LESSON_IDS)[number], { title: string; panes: Array<{ name: string; unshare: string[] }> }> = Object.fromEntries(
  LESSON_IDS.map((id) => [
    id,
    {
      title: `The ${id} lesson`,
      panes: [
        { name: 'host', unshare: [] },
        { name: 'container', unshare: id === 'mount' ? ['mnt', 'pid'] : id === 'container' ? [] : [id] },
      ],
    },
  ]),
) as never;

export interface FakeAgentOptions {
  /** The token the agent accepts; null: no authentication at all. */
  token?: string | null;
  /**
   * How a connection without the right token is treated: 'http' answers the upgrade with 401;
   * 'hello' accepts it, says authenticated:false and wants an `auth` message.
   */
  authMode?: 'http' | 'hello';
  /** Protocol version to announce. */
  version?: number;
  /** Never answer requests (to test timeouts). */
  silent?: boolean;
  /** false: ignore the Authorization header, as if a proxy dropped it (only an `auth` message works). */
  acceptHeader?: boolean;
}

export type Received = ClientMessage & { conn: number };

const b64 = (s: string | Uint8Array): string => Buffer.from(s).toString('base64');

export class FakeAgent {
  readonly received: Received[] = [];
  /** Client messages that failed the schema: the CLI must never send one. */
  readonly invalid: unknown[] = [];
  /** Authorization headers seen on upgrade requests. */
  readonly authHeaders: Array<string | undefined> = [];
  readonly sockets: WebSocket[] = [];
  readonly labs = new Map<string, LabInfo>();
  connections = 0;
  private labCounter = 0;
  private readonly offsets = new Map<string, number>();
  private waiters: Array<{ pred: (m: Received) => boolean; resolve: (m: Received) => void }> = [];

  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    readonly opts: Required<Omit<FakeAgentOptions, 'token'>> & { token: string | null },
  ) {}

  static async start(options: FakeAgentOptions = {}): Promise<FakeAgent> {
    const opts = { token: 'secret-token', authMode: 'http' as const, version: PROTOCOL_VERSION, silent: false, acceptHeader: true, ...options };
    const server = createServer((_req, res) => {
      res.statusCode = 404;
      res.end('not found');
    });
    const wss = new WebSocketServer({ noServer: true });
    const agent = new FakeAgent(server, wss, opts);
    server.on('upgrade', (req, socket, head) => {
      agent.authHeaders.push(req.headers.authorization);
      if (new URL(req.url ?? '/', 'http://x').pathname !== WS_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      const authed = agent.headerOk(req);
      if (!authed && opts.authMode === 'http') {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => agent.onConnection(ws, authed));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return agent;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Environment for runCli pointing at this agent, with the right token unless overridden. */
  env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return { NSLAB_URL: this.url, ...(this.opts.token ? { NSLAB_TOKEN: this.opts.token } : {}), ...extra };
  }

  /** Resolves with the first received message (past or future) matching pred. */
  waitFor(pred: (m: Received) => boolean, timeoutMs = 3000): Promise<Received> {
    const seen = this.received.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise<Received>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fake agent: timed out waiting for a message')), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** Open a lab directly (as if another client had). */
  addLab(lesson: (typeof LESSON_IDS)[number], id = this.newLabId()): LabInfo {
    const lab: LabInfo = {
      id,
      lesson,
      createdAt: new Date(Date.now() - 5 * 60_000).toISOString(),
      hostname: `nslab-${id}`,
      uidBase: 100000,
      panes: FAKE_LESSONS[lesson].panes.map((p) => ({ name: p.name, unshare: [...p.unshare], running: true, pid: 4242, exitCode: null, signal: null })),
    };
    this.labs.set(id, lab);
    return lab;
  }

  broadcast(msg: object): void {
    for (const ws of this.sockets) if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  }

  sendFrame(key: string, payload: string | Uint8Array): void {
    const frame = this.frame(key, typeof payload === 'string' ? Buffer.from(payload) : payload);
    for (const ws of this.sockets) if (ws.readyState === ws.OPEN) ws.send(frame);
  }

  /** A screen snapshot: the pane's stream continues at `offset`. */
  sendSnapshot(key: string, offset: number, cols: number, rows: number, screen: string): void {
    this.offsets.set(key, offset);
    const frame = encodeSnapshotFrame(key, offset, cols, rows, Buffer.from(screen));
    for (const ws of this.sockets) if (ws.readyState === ws.OPEN) ws.send(frame);
  }

  /** An output frame at the pane's next stream offset. */
  private frame(key: string, payload: Uint8Array): Uint8Array {
    const at = this.offsets.get(key) ?? 0;
    this.offsets.set(key, at + payload.length);
    return encodeOutputFrame(key, at, payload);
  }

  /** Drop every connection without a close handshake. */
  dropAll(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private newLabId(): string {
    this.labCounter += 1;
    return `lab${String(this.labCounter).padStart(5, '0')}`;
  }

  private headerOk(req: IncomingMessage): boolean {
    if (this.opts.token === null) return true;
    if (!this.opts.acceptHeader) return false;
    return req.headers.authorization === `Bearer ${this.opts.token}`;
  }

  private onConnection(ws: WebSocket, authedAtUpgrade: boolean): void {
    const conn = ++this.connections;
    this.sockets.push(ws);
    let authed = authedAtUpgrade;
    ws.send(JSON.stringify({ type: 'hello', version: this.opts.version, versions: [this.opts.version], authenticated: authed }));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let json: unknown;
      try {
        json = JSON.parse(data.toString());
      } catch {
        ws.send(JSON.stringify({ type: 'error', id: null, code: 'bad-json', message: 'not JSON' }));
        return;
      }
      const parsed = ClientMessage.safeParse(json);
      if (!parsed.success) {
        this.invalid.push(json);
        const id = (json as { id?: unknown }).id;
        ws.send(
          JSON.stringify({
            type: 'error',
            id: typeof id === 'number' || typeof id === 'string' ? id : null,
            code: 'bad-message',
            message: describeZodError(parsed.error),
          }),
        );
        return;
      }
      const msg = parsed.data;
      const rec: Received = { ...msg, conn };
      this.received.push(rec);
      for (const w of [...this.waiters]) {
        if (w.pred(rec)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(rec);
        }
      }
      const reply = (data: unknown): void => {
        if ('id' in msg && msg.id !== undefined) ws.send(JSON.stringify({ type: 'result', id: msg.id, data }));
      };
      const fail = (code: string, message: string): void => {
        ws.send(JSON.stringify({ type: 'error', id: ('id' in msg ? msg.id : undefined) ?? null, code, message }));
      };

      if (msg.type === 'auth') {
        if (this.opts.token === null || msg.token === this.opts.token) {
          authed = true;
          reply({ authenticated: true });
        } else {
          fail('unauthenticated', 'wrong token');
        }
        return;
      }
      if (!authed) {
        fail('unauthenticated', 'authenticate first');
        return;
      }
      if (this.opts.silent) return;
      this.handle(ws, msg, reply, fail);
    });
  }

  private handle(ws: WebSocket, msg: ClientMessage, reply: (data: unknown) => void, fail: (code: string, message: string) => void): void {
    const lab = 'lab' in msg ? this.labs.get(msg.lab) : undefined;
    const needLab = (): LabInfo | undefined => {
      if (!lab) fail('unknown-lab', `there is no lab ${(msg as { lab: string }).lab}`);
      return lab;
    };
    switch (msg.type) {
      case 'lessons':
        reply(LESSON_IDS.map((id) => ({ id, title: FAKE_LESSONS[id].title, panes: FAKE_LESSONS[id].panes })));
        return;
      case 'open':
        if (!(LESSON_IDS as readonly string[]).includes(msg.lesson)) {
          fail('unknown-lesson', `no lesson "${msg.lesson}"`);
          return;
        }
        reply(this.addLab(msg.lesson as (typeof LESSON_IDS)[number]));
        return;
      case 'list':
        reply([...this.labs.values()]);
        return;
      case 'close':
        if (!needLab()) return;
        this.labs.delete(msg.lab);
        reply({ closed: true });
        return;
      case 'exec': {
        const l = needLab();
        if (!l) return;
        if (!l.panes.some((p) => p.name === msg.pane)) {
          fail('unknown-pane', `lab ${msg.lab} has no pane ${msg.pane}`);
          return;
        }
        if (msg.argv[0] === 'malformed') reply({ exitCode: 'zero' });
        else reply(this.exec(msg.argv, msg.stdin));
        return;
      }
      case 'attach': {
        const l = needLab();
        if (!l) return;
        const pane = l.panes.find((p) => p.name === msg.pane);
        if (!pane) {
          fail('unknown-pane', `lab ${msg.lab} has no pane ${msg.pane}`);
          return;
        }
        if (!pane.running) {
          fail('pane-not-running', `pane ${msg.pane} is not running`);
          return;
        }
        reply({ attached: true });
        ws.send(this.frame(`${msg.lab}/${msg.pane}`, Buffer.from('welcome\r\n$ ')));
        return;
      }
      case 'input':
        // Echo like a terminal would, so tests can see the round trip.
        ws.send(this.frame(`${msg.lab}/${msg.pane}`, Buffer.from(`echo:${msg.data}`)));
        return;
      case 'resize':
      case 'detach':
        return;
      case 'restart':
        reply({ restarted: true });
        return;
    }
  }

  /** Canned commands, chosen by argv[0]. */
  private exec(argv: string[], stdin: string | undefined): ExecResult {
    const ok = (stdout: string | Uint8Array, stderr: string | Uint8Array = '', exitCode = 0): ExecResult => ({
      exitCode,
      signal: null,
      stdout: b64(stdout),
      stderr: b64(stderr),
      truncated: false,
      timedOut: false,
    });
    switch (argv[0]) {
      case 'bytes': // binary stdout, some stderr, exit 3
        return ok(Uint8Array.from([0x00, 0xff, 0xfe, 0x41, 0x0a, 0x80]), 'warning: \xe9\n', 3);
      case 'argv':
        return ok(JSON.stringify(argv));
      case 'cat':
        return ok(Buffer.from(stdin ?? '', 'base64'), '', 0);
      case 'has-stdin':
        return ok(stdin === undefined ? 'no' : 'yes');
      case 'exit':
        return ok('', '', Number(argv[1] ?? 0));
      case 'kill': // killed by SIGKILL
        return { exitCode: null, signal: 9, stdout: b64('partial'), stderr: '', truncated: false, timedOut: false };
      case 'sleep': // ran past its timeout and was killed
        return { exitCode: null, signal: 9, stdout: '', stderr: '', truncated: false, timedOut: true };
      case 'flood':
        return { exitCode: 0, signal: null, stdout: b64('x'.repeat(100)), stderr: '', truncated: true, timedOut: false };
      default:
        return { exitCode: 127, signal: null, stdout: '', stderr: b64(`${argv[0]}: command not found\n`), truncated: false, timedOut: false };
    }
  }
}

/**
 * One fake agent for a whole describe block; afterwards, checks that the CLI never sent a
 * message the protocol schema rejects. Returns a getter (the agent exists once `before` ran).
 */
export function useFakeAgent(): () => FakeAgent {
  let agent: FakeAgent | undefined;
  before(async () => {
    agent = await FakeAgent.start();
  });
  after(async () => {
    assert.deepEqual(agent!.invalid, [], 'the CLI sent a message the protocol schema rejects');
    await agent!.close();
  });
  return () => agent!;
}

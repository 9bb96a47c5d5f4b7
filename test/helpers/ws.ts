// A bare WebSocket client for protocol tests: raw frames in, parsed messages out.
import WebSocket from 'ws';
import { FRAME_OUTPUT, decodeFrame } from '@nslab/shared';

export class TestClient {
  readonly messages: any[] = [];
  readonly frames: Array<{ op: number; key: string; offset: number; payload: Buffer }> = [];
  /** Acknowledge every output frame as soon as it arrives (flow control), as a fast client would. */
  autoAck = true;
  /** Keep received frames in `frames` (a long flood test turns this off). */
  keepFrames = true;
  private waiters: Array<() => void> = [];
  closed: { code: number; reason: string } | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        const f = decodeFrame(new Uint8Array(data as Buffer));
        if (f) {
          if (this.keepFrames) this.frames.push({ op: f.op, key: f.key, offset: f.offset, payload: Buffer.from(f.payload) });
          if (this.autoAck && f.op === FRAME_OUTPUT && f.payload.length) {
            const [lab, pane] = f.key.split('/');
            this.send({ type: 'ack', lab, pane, offset: f.offset + f.payload.length });
          }
        }
      } else this.messages.push(JSON.parse(data.toString()));
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => {});
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** `query`: after /api/ws, e.g. '?embed=1' (an embedded view's socket). */
  static connect(url: string, token?: string, headers: Record<string, string> = {}, query = ''): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url.replace(/^http/, 'ws') + '/api/ws' + query, {
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      });
      const c = new TestClient(ws);
      ws.once('open', () => resolve(c));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  /** A new browser session's cookie (`name=value`), as a page load would set it. */
  static async sessionCookie(url: string): Promise<string> {
    const res = await fetch(`${url}/api/session`);
    return (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  }

  /** A browser: a fresh session cookie, and the agent's own page as Origin (unless told otherwise). */
  static async asBrowser(url: string, origin = url): Promise<TestClient> {
    return TestClient.connect(url, undefined, { cookie: await TestClient.sessionCookie(url), origin });
  }

  send(msg: unknown) {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** Wait for a message matching `pred` (already received or future). */
  async waitFor(pred: (m: any) => boolean, timeoutMs = 15_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(pred);
      if (found) return found;
      if (this.closed) throw new Error(`connection closed (${this.closed.code}) while waiting`);
      if (Date.now() > deadline) throw new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages.slice(-5))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async request(msg: Record<string, unknown>, timeoutMs = 30_000): Promise<any> {
    const id = Math.floor(Math.random() * 1e9);
    this.send({ ...msg, id });
    const reply = await this.waitFor((m) => (m.type === 'result' || m.type === 'error') && m.id === id, timeoutMs);
    return reply;
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('still open');
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.closed;
  }

  close() {
    this.ws.close();
  }
}

/** A request that must succeed: its result's data. */
export async function ok(c: TestClient, msg: Record<string, unknown>): Promise<any> {
  const r = await c.request(msg);
  if (r.type !== 'result') throw new Error(`${msg.type}: expected a result, got ${JSON.stringify(r)}`);
  return r.data;
}

/** A request that must be refused with `code`: the refusal's message. */
export async function refused(c: TestClient, msg: Record<string, unknown>, code: string): Promise<string> {
  const r = await c.request(msg);
  if (r.type !== 'error') throw new Error(`${msg.type} should be refused with ${code}: ${JSON.stringify(r)}`);
  if (r.code !== code) throw new Error(`${msg.type}: refused with ${r.code} (${r.message}), expected ${code}`);
  return r.message as string;
}

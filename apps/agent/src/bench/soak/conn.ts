// One WebSocket as a lesson page opens it: the session cookie from /api/session, the agent's own
// Origin, `?v=2`, no token. Requests are matched to answers by id, with a bound on how long an
// answer may take (past it, a stall); events and binary frames go to whoever listens.
import WebSocket, { type RawData } from 'ws';
import { WS_PATH, decodeFrame, type Frame } from '@nslab/shared';
import { StallError } from '../util.js';

/** The agent answered a request with an error: its code and message. */
export class AgentRefused extends Error {
  constructor(
    readonly request: string,
    readonly code: string,
    /** The agent's own words. */
    readonly said: string,
  ) {
    super(`${request}: ${code}: ${said}`);
    this.name = 'AgentRefused';
  }
}

/** The connection went away while a request waited for its answer. */
export class ConnectionLost extends Error {
  constructor(readonly request: string) {
    super(`${request}: the connection closed before the answer`);
    this.name = 'ConnectionLost';
  }
}

export type AgentEvent = { type: string; lab?: string; pane?: string; reason?: string; [k: string]: unknown };

/** A new browser: a session cookie of its own. */
export async function newSession(url: string): Promise<string> {
  const res = await fetch(`${url}/api/session`);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  if (!cookie.includes('=')) throw new Error(`GET /api/session gave no session cookie (HTTP ${res.status})`);
  return cookie;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class Conn {
  private nextId = 1;
  private readonly pending = new Map<number, { type: string; resolve: (d: any) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  /** Closed by us (a reload, a dropped network we simulate), not by the agent. */
  closedByUs = false;
  closed = false;
  onFrame: (f: Frame) => void = () => {};
  onEvent: (e: AgentEvent) => void = () => {};
  /** The connection closed without us asking (code, reason). */
  onLost: (why: string) => void = () => {};
  /** A message that could not be read, or a listener that threw. */
  onError: (err: Error) => void = () => {};

  private constructor(
    private readonly ws: WebSocket,
    readonly who: string,
  ) {}

  static open(url: string, cookie: string, who: string, timeoutMs = 15_000): Promise<Conn> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${WS_PATH}?v=2`, { headers: { cookie, origin: url }, perMessageDeflate: false });
    const c = new Conn(ws, who);
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new StallError({ who, what: 'the connection and its hello', bytes: 0, ms: performance.now() - t0 }));
      }, timeoutMs);
      let hello = false;
      ws.on('message', (data, isBinary) => {
        if (!hello && !isBinary) {
          const m = JSON.parse(toBuffer(data).toString());
          if (m.type === 'hello') {
            hello = true;
            clearTimeout(timer);
            if (!m.authenticated) {
              ws.terminate();
              reject(new Error(`${who}: the agent did not take the session cookie (hello says not authenticated)`));
            } else resolve(c);
            return;
          }
        }
        try {
          c.message(data, isBinary);
        } catch (err) {
          c.onError(err as Error);
        }
      });
      ws.on('error', (err) => {
        if (!hello) {
          clearTimeout(timer);
          reject(new Error(`${who}: cannot connect: ${err.message}`));
        }
      });
      ws.on('close', (code, reason) => {
        c.closed = true;
        for (const [, p] of c.pending) {
          clearTimeout(p.timer);
          p.reject(new ConnectionLost(p.type));
        }
        c.pending.clear();
        if (hello && !c.closedByUs) c.onLost(`close code ${code}${reason.length ? `: ${reason.toString()}` : ''}`);
      });
    });
  }

  private message(data: RawData, isBinary: boolean) {
    if (isBinary) {
      const f = decodeFrame(toBuffer(data));
      if (f) this.onFrame(f);
      return;
    }
    const m = JSON.parse(toBuffer(data).toString());
    if ((m.type === 'result' || m.type === 'error') && typeof m.id === 'number') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.type === 'result') p.resolve(m.data);
      else p.reject(new AgentRefused(p.type, m.code, m.message));
      return;
    }
    if (m.type === 'error') {
      // An error about no request: a notice (input, ack) the agent refused.
      this.onEvent({ type: 'notice-error', code: m.code, message: m.message });
      return;
    }
    this.onEvent(m);
  }

  get open(): boolean {
    return !this.closed && this.ws.readyState === WebSocket.OPEN;
  }

  /** A request and its answer; an answer that does not come within `timeoutMs` is a stall. */
  request(msg: Record<string, unknown> & { type: string }, timeoutMs = 30_000): Promise<any> {
    if (!this.open) return Promise.reject(new ConnectionLost(msg.type));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new StallError({ who: this.who, what: `the answer to ${msg.type}`, bytes: 0, ms: performance.now() - t0 }));
      }, timeoutMs);
      this.pending.set(id, { type: msg.type, resolve, reject, timer });
      this.ws.send(JSON.stringify({ ...msg, id }));
    });
  }

  /** A message without an answer (input, ack, detach). */
  send(msg: Record<string, unknown>) {
    if (this.open) this.ws.send(JSON.stringify(msg));
  }

  /** Leave as a page does (reload, tab closed): a normal close. */
  close(): Promise<void> {
    this.closedByUs = true;
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 1000);
      this.ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      this.ws.close(1000);
    });
  }

  /** The network drops: no close handshake, the agent finds out from TCP. */
  drop() {
    this.closedByUs = true;
    this.ws.terminate();
  }
}

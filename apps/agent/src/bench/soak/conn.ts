// One WebSocket as a lesson page opens it: the session cookie from /api/session, the agent's own
// Origin, this build's protocol version, no token. Requests go through the shared client core's
// tracker (ids, typed and checked answers), with a bound on how long an answer may take (past it,
// a stall); events and binary frames go to whoever listens.
import WebSocket, { type RawData } from 'ws';
import {
  AgentError,
  PROTOCOL_VERSION,
  RequestTracker,
  WS_PATH,
  decodeFrame,
  type Frame,
  type RequestOf,
  type RequestType,
  type ResultOf,
  type ServerMessage,
} from '@nslab/shared';
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
  private readonly requests = new RequestTracker();
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
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${WS_PATH}?v=${PROTOCOL_VERSION}`, { headers: { cookie, origin: url }, perMessageDeflate: false });
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
        c.requests.failAll(new AgentError('connection', 'the connection closed'));
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
    if (this.requests.settle(m as ServerMessage)) return;
    if ((m.type === 'result' || m.type === 'error') && m.id !== null && m.id !== undefined) return; // an answer to a request we gave up on
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
  async request<T extends RequestType>(msg: RequestOf<T> & { type: T }, timeoutMs = 30_000): Promise<ResultOf<T>> {
    if (!this.open) throw new ConnectionLost(msg.type);
    const { id, text, result } = this.requests.make(msg);
    const t0 = performance.now();
    const timer = setTimeout(
      () => this.requests.cancel(id, new StallError({ who: this.who, what: `the answer to ${msg.type}`, bytes: 0, ms: performance.now() - t0 })),
      timeoutMs,
    );
    this.ws.send(text);
    try {
      return await result;
    } catch (err) {
      if (err instanceof AgentError && err.code === 'connection') throw new ConnectionLost(msg.type);
      // A refusal in the agent's words. An answer of the wrong shape ('bad-answer') stays an
      // AgentError: an error of the agent's, counted as one.
      if (err instanceof AgentError && err.code !== 'timeout' && err.code !== 'bad-answer') throw new AgentRefused(msg.type, err.code, err.message);
      throw err;
    } finally {
      clearTimeout(timer);
    }
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

// One page's WebSocket to the agent (docs/protocol.md), whatever the page does with it: connects to
// ws(s)://<this host>/api/ws?v=<protocol version>, numbers each connection so that a late event
// of an old one is ignored, checks the agent's hello and every message against the protocol's
// schemas, answers requests through the shared client core (RequestTracker: typed results, one
// AgentError, every pending request failed when the connection goes), splits binary frames into
// lab and pane, and waits before the next attempt with a growing backoff and a countdown. What
// the page shows, and whether it tries again at all, is the page's: LabSession (the lesson page)
// and WatchSession (the read-only watch page) use it; an embed view's adds `&embed=1`.
import {
  AgentError,
  PROTOCOL_VERSION,
  RequestTracker,
  ServerMessage,
  WS_PATH,
  checkHello,
  decodeFrame,
  type ClientMessage,
  type Frame,
  type RequestOf,
  type RequestType,
  type ResultOf,
} from '@nslab/shared';

export { AgentError };

/** The agent's greeting on a new connection. */
export type AgentHello = Extract<ServerMessage, { type: 'hello' }>;
/** A message from the agent that answers no request of this connection: an event, or an error about no request. */
export type AgentEvent = Exclude<ServerMessage, { type: 'hello' }>;

/** The messages the page sends without waiting for an answer. */
type NoticeType = 'ack' | 'focus' | 'detach' | 'input' | 'resize' | 'unwatch';
export type Notice = { [T in NoticeType]: Omit<Extract<ClientMessage, { type: T }>, 'id'> }[NoticeType];

/** The code of an AgentError (the agent's refusal, or 'connection', 'timeout', 'bad-answer'), null for any other error. */
export function errorCode(err: unknown): AgentError['code'] | null {
  return err instanceof AgentError ? err.code : null;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The close code of an agent that does not speak this page's protocol version. */
export const UNSUPPORTED_VERSION = 4002;

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

/**
 * A connection for a few requests in a row (join a workshop, make one, get a link): connects,
 * runs `fn` once the agent said hello, then closes. A connection that fails first rejects with
 * AgentError('connection').
 */
export function withConnection<T>(fn: (socket: AgentSocket) => Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      socket.stop();
      settle();
    };
    const socket: AgentSocket = new AgentSocket({
      connecting: () => {},
      hello: () => {
        fn(socket).then(
          (v) => finish(() => resolve(v)),
          (err: unknown) => finish(() => reject(err)),
        );
      },
      message: () => {},
      frame: () => {},
      closed: () => finish(() => reject(new AgentError('connection', 'the connection to nslab failed'))),
      countdown: () => {},
    });
    socket.start();
  });
}

export interface SocketHandlers {
  /** A connection attempt starts. */
  connecting(): void;
  /** The agent greeted a new connection (and speaks this page's protocol version). */
  hello(msg: AgentHello): void;
  /** A message that answers no request of this connection. */
  message(msg: AgentEvent): void;
  /** A pane's output or snapshot (its key split into lab and pane). */
  frame(lab: string, pane: string, frame: Frame): void;
  /**
   * The connection is gone, or could not be made; every request on it has failed with an
   * AgentError of code 'connection'. `unsupported` says why when the agent does not speak this
   * page's protocol version (a reload fetches the page that matches it). The page may call
   * retryLater().
   */
  closed(unsupported: string | null): void;
  /** Seconds until the next attempt, while retryLater() waits (again on each change). */
  countdown(seconds: number): void;
  /**
   * A router in front of several agents cannot reach the lab this socket named (`lab`): the
   * machine holding it stopped (4410), or the id is not one of this cluster's (4403). `lab` is
   * cleared first, so the next connection is placed anew; closed(null) follows.
   */
  labLost?(reason: string): void;
}

/** Close codes of a router in front of several agents (docs/router.md). */
export const ROUTER_CLOSE = { altered: 4403, gone: 4410, noRoom: 4503 } as const;

export class AgentSocket {
  private ws: WebSocket | null = null;
  private generation = 0;
  /** Ids and pending requests: one tracker for every connection of this socket (ids never repeat). */
  private readonly requests = new RequestTracker();
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private tick: ReturnType<typeof setInterval> | null = null;
  private stopped = true;
  /** Waiting to connect again after a lost connection (the network coming back cuts it short). */
  private down = false;
  /** Connection attempts fail until then (drop(), for tests). */
  private unreachableUntil = 0;
  /** An embed view's connection (`embed=1`): the agent knows it by its embed cookie, not the session cookie. */
  embed = false;
  /**
   * The lab this page works with, when it has one: sent as `lab=` so that a router in front of
   * several agents takes the connection to the machine that holds it (one agent ignores it).
   */
  lab: string | null = null;

  constructor(private readonly handlers: SocketHandlers) {}

  start() {
    this.stopped = false;
    window.addEventListener('online', this.wake);
    document.addEventListener('visibilitychange', this.wake);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.wake);
    document.removeEventListener('visibilitychange', this.wake);
    this.clearTimers();
    this.closeCurrent(1000, 'page closed');
  }

  /** The connection requests go out on now (null while there is none): compare to see whether it changed. */
  get current(): WebSocket | null {
    return this.ws;
  }

  get open(): boolean {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Connect again at once, on a new connection, with the backoff from the start. */
  restart() {
    if (this.stopped) return;
    this.clearTimers();
    this.attempt = 0;
    this.closeCurrent();
    this.connect();
  }

  /**
   * Drop the connection as a network failure would, and fail every attempt to reconnect for
   * `forMs` (tests).
   */
  drop(forMs = 0) {
    this.unreachableUntil = Date.now() + forMs;
    this.ws?.close(3000, 'dropped');
  }

  /**
   * Wait for the next backoff delay (counted down through `countdown`), then try again: `again`
   * on the same connection when there is one, else on a new connection.
   */
  retryLater(again?: () => void) {
    if (this.stopped) return;
    this.down = !again;
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)]!;
    this.attempt++;
    const at = Date.now() + delay;
    let shown = Math.ceil(delay / 1000);
    this.handlers.countdown(shown);
    this.clearTimers();
    this.tick = setInterval(() => {
      const left = Math.max(0, Math.ceil((at - Date.now()) / 1000));
      if (left !== shown) this.handlers.countdown((shown = left));
    }, 250);
    this.retryTimer = setTimeout(() => {
      this.clearTimers();
      if (again && this.ws) again();
      else this.connect();
    }, delay);
  }

  /**
   * After the next backoff delay, leave this connection and make a new one (the backoff keeps
   * growing): behind a router, a new connection is placed anew (a full or draining agent).
   */
  reconnectLater() {
    this.retryLater(() => {
      this.closeCurrent(1000, 'placed anew');
      this.connect();
    });
  }

  /** Send a message that gets no answer; false (and nothing sent) while not connected. */
  send(msg: Notice): boolean {
    if (!this.open) return false;
    this.ws!.send(JSON.stringify(msg));
    return true;
  }

  /**
   * Ask the agent: the answer, checked against what the protocol says that request answers. Rejects
   * with an AgentError: the agent's code, or 'connection' when there is no connection or it goes
   * before the answer, or 'bad-answer'.
   */
  request<T extends RequestType>(msg: RequestOf<T> & { type: T }): Promise<ResultOf<T>> {
    if (!this.open) return Promise.reject(new AgentError('connection', 'not connected'));
    const { text, result } = this.requests.make(msg);
    this.ws!.send(text);
    return result;
  }

  /** The network is back, or the page is looked at again: do not wait for the backoff. */
  private wake = () => {
    if (document.visibilityState === 'visible' && this.down) this.restart();
  };

  private connect() {
    if (this.stopped) return;
    const gen = ++this.generation;
    this.handlers.connecting();
    let ws: WebSocket;
    try {
      if (Date.now() < this.unreachableUntil) throw new Error('unreachable (simulated)');
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      const lab = this.lab ? `&lab=${encodeURIComponent(this.lab)}` : '';
      ws = new WebSocket(`${proto}//${location.host}${WS_PATH}?v=${PROTOCOL_VERSION}${this.embed ? '&embed=1' : ''}${lab}`);
    } catch {
      this.down = false;
      this.handlers.closed(null);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (gen !== this.generation) return;
      if (typeof ev.data === 'string') this.onText(ev.data);
      else this.onBinary(new Uint8Array(ev.data as ArrayBuffer));
    };
    ws.onclose = (ev) => {
      if (gen !== this.generation) return;
      this.ws = null;
      this.requests.failAll(new AgentError('connection', 'connection lost'));
      if (this.stopped) return;
      this.down = false;
      if ((ev.code === ROUTER_CLOSE.gone || ev.code === ROUTER_CLOSE.altered) && this.lab !== null) {
        this.lab = null;
        this.handlers.labLost?.(ev.reason || 'the machine holding your lab stopped; open a new one');
      }
      this.handlers.closed(ev.code === UNSUPPORTED_VERSION ? ev.reason || 'unsupported protocol version' : null);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  /** Leave the current connection: its late events are ignored and its requests fail now. */
  private closeCurrent(code?: number, reason?: string) {
    this.generation++;
    const ws = this.ws;
    this.ws = null;
    this.requests.failAll(new AgentError('connection', 'connection closed'));
    ws?.close(code, reason);
  }

  private clearTimers() {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.tick) clearInterval(this.tick);
    this.retryTimer = null;
    this.tick = null;
  }

  private onText(text: string) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return;
    }
    const parsed = ServerMessage.safeParse(json);
    // A message this page does not know (from a newer agent), or not in the shape it knows: ignored.
    if (!parsed.success) return;
    const msg = parsed.data;
    if (msg.type === 'hello') {
      const unsupported = checkHello(msg);
      if (unsupported !== null) {
        // Not this page's protocol: leave (the agent closes too), and do not try again.
        this.closeCurrent(1000, 'unsupported protocol version');
        this.down = false;
        this.handlers.closed(unsupported);
        return;
      }
      this.attempt = 0;
      this.down = false;
      this.handlers.hello(msg);
      return;
    }
    if (this.requests.settle(msg)) return;
    this.handlers.message(msg);
  }

  private onBinary(buf: Uint8Array) {
    const f = decodeFrame(buf);
    if (!f) return;
    const slash = f.key.indexOf('/');
    this.handlers.frame(f.key.slice(0, slash), f.key.slice(slash + 1), f);
  }
}

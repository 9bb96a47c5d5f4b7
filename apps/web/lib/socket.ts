// One page's WebSocket to the agent (docs/protocol.md), whatever the page does with it: connects to
// ws(s)://<this host>/api/ws?v=<protocol version>, numbers each connection so that a late event
// of an old one is ignored, answers requests by their ids (and fails them all when the connection
// goes), splits binary frames into lab and pane, and waits before the next attempt with a
// growing backoff and a countdown. What the page shows, and whether it tries again at all, is
// the page's: LabSession (the lesson page) and WatchSession (the read-only watch page) use it.
import { PROTOCOL_VERSION, WS_PATH, decodeFrame, type Frame } from '@nslab/shared';

export class AgentError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A JSON message from the agent. */
export type AgentMessage = { type?: string; [k: string]: unknown };

/** The close code of an agent that does not speak this page's protocol version. */
export const UNSUPPORTED_VERSION = 4002;

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

export interface SocketHandlers {
  /** A connection attempt starts. */
  connecting(): void;
  /** The agent greeted a new connection. */
  hello(msg: AgentMessage): void;
  /** A message that answers no request of this connection. */
  message(msg: AgentMessage): void;
  /** A pane's output or snapshot (its key split into lab and pane). */
  frame(lab: string, pane: string, frame: Frame): void;
  /**
   * The connection is gone, or could not be made; every request on it has failed with
   * `disconnected`. `unsupported` says why when the agent refused this page's protocol version
   * (a reload fetches the page that matches it). The page may call retryLater().
   */
  closed(unsupported: string | null): void;
  /** Seconds until the next attempt, while retryLater() waits (again on each change). */
  countdown(seconds: number): void;
}

export class AgentSocket {
  private ws: WebSocket | null = null;
  private generation = 0;
  private nextId = 1;
  private pending = new Map<number, { resolve: (data: unknown) => void; reject: (err: AgentError) => void }>();
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private tick: ReturnType<typeof setInterval> | null = null;
  private stopped = true;
  /** Waiting to connect again after a lost connection (the network coming back cuts it short). */
  private down = false;
  /** Connection attempts fail until then (drop(), for tests). */
  private unreachableUntil = 0;

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

  send(msg: Record<string, unknown>): boolean {
    if (!this.open) return false;
    this.ws!.send(JSON.stringify(msg));
    return true;
  }

  request<T = unknown>(msg: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (!this.send({ ...msg, id })) return reject(new AgentError('disconnected', 'not connected'));
      this.pending.set(id, { resolve: resolve as (data: unknown) => void, reject });
    });
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
      ws = new WebSocket(`${proto}//${location.host}${WS_PATH}?v=${PROTOCOL_VERSION}`);
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
      this.failPending('connection lost');
      if (this.stopped) return;
      this.down = false;
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
    this.failPending('connection closed');
    ws?.close(code, reason);
  }

  private failPending(why: string) {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(new AgentError('disconnected', why));
  }

  private clearTimers() {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.tick) clearInterval(this.tick);
    this.retryTimer = null;
    this.tick = null;
  }

  private onText(text: string) {
    let msg: AgentMessage;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.type === 'hello') {
      this.attempt = 0;
      this.down = false;
      this.handlers.hello(msg);
      return;
    }
    if ((msg.type === 'result' || msg.type === 'error') && typeof msg.id === 'number') {
      const p = this.pending.get(msg.id);
      if (p) {
        this.pending.delete(msg.id);
        if (msg.type === 'result') p.resolve(msg.data);
        else p.reject(new AgentError(String(msg.code), String(msg.message)));
        return;
      }
    }
    this.handlers.message(msg);
  }

  private onBinary(buf: Uint8Array) {
    const f = decodeFrame(buf);
    if (!f) return;
    const slash = f.key.indexOf('/');
    this.handlers.frame(f.key.slice(0, slash), f.key.slice(slash + 1), f);
  }
}

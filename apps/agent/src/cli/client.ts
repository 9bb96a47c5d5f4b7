// A small promise-based client for the agent's WebSocket protocol: connect (with the token in the
// upgrade header, falling back to an `auth` message), requests matched to answers by id with
// timeouts, fire-and-forget notices (input, resize, detach), and listeners for binary output
// frames, pane/lab events and the connection dropping. Every failure becomes a CliError whose
// message can be shown to the user as it is.
import WebSocket, { type RawData } from 'ws';
import type { IncomingMessage } from 'node:http';
import {
  MAX_CLIENT_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  RequestTracker,
  ServerMessage,
  WS_PATH,
  checkHello,
  decodeFrame,
  type Frame,
  type ClientMessage,
  type RequestOf,
  type RequestType,
} from '@nslab/shared';
import { AgentError, AuthError, CliError, ConnectionError } from './errors.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A message that the agent answers with a result or an error, minus the id the client assigns. */
export type RequestMessage = RequestOf<Exclude<RequestType, 'input' | 'resize' | 'detach'>>;
/** A message that gets no answer. */
export type NoticeMessage = DistributiveOmit<Extract<ClientMessage, { type: 'input' | 'resize' | 'detach' | 'ack' }>, 'id'>;
export type ServerEvent = Extract<
  ServerMessage,
  {
    type:
      | 'pane-exit'
      | 'pane-start'
      | 'pane-closed'
      | 'lab-closed'
      | 'lab-closing'
      | 'pane-size'
      | 'tasks'
      | 'picture'
      | 'notice'
      | 'lessons-changed'
      | 'workshop-changed'
      | 'broadcast'
      | 'workshop-closed'
      | 'takeover'
      | 'takeover-state'
      | 'move';
  }
>;
export type OutputFrame = Frame;

export interface ConnectOptions {
  /** ws:// or wss:// URL of the agent's WebSocket endpoint. */
  wsUrl: string;
  /** The URL as the user configured it, for messages. */
  displayUrl: string;
  token?: string;
  /** Where the token came from, for messages ("NSLAB_TOKEN", "/run/nslab/token"). */
  tokenSource?: string;
  /** What to tell the user when the agent wants a token and we have none. */
  noTokenHint?: string;
  /** Covers the TCP connect, the upgrade, the hello and authentication. Default 10 s. */
  connectTimeoutMs?: number;
  /** Default time to wait for the answer to a request. Default 30 s; 0 waits forever. */
  requestTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Close codes with which a server says "not allowed" (policy violation, and the 4xxx mirror of HTTP 401/403). */
const AUTH_CLOSE_CODES = new Set([1008, 4001, 4003, 4401, 4403]);

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export class AgentClient {
  /** Requests waiting for their answers (the protocol client core's tracker). */
  private readonly requests = new RequestTracker();
  private readonly frameListeners = new Set<(frame: OutputFrame) => void>();
  private readonly eventListeners = new Set<(event: ServerEvent) => void>();
  private readonly closeListeners = new Set<(message: string) => void>();
  /** Set once the connection is gone: why, in words. */
  private closedMessage: string | null = null;
  private lastError: Error | null = null;
  private closingOnPurpose = false;
  private helloWaiter: ((hello: Extract<ServerMessage, { type: 'hello' }>) => void) | undefined;
  private connectionErrorWaiter: ((err: CliError) => void) | undefined;
  private readonly requestTimeoutMs: number;

  private constructor(
    private readonly ws: WebSocket,
    private readonly opts: ConnectOptions,
  ) {
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  get url(): string {
    return this.opts.displayUrl;
  }

  /** Connect, wait for the agent's hello and authenticate. Rejects with a CliError that explains what to do. */
  static connect(opts: ConnectOptions): Promise<AgentClient> {
    const display = opts.displayUrl;
    const connectTimeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return new Promise<AgentClient>((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(opts.wsUrl, {
          headers: opts.token ? { Authorization: `Bearer ${opts.token}` } : {},
          perMessageDeflate: false,
        });
      } catch (err) {
        reject(new ConnectionError(`cannot connect to the agent at ${display}: ${(err as Error).message}`));
        return;
      }
      const client = new AgentClient(ws, opts);
      let settled = false;
      let opened = false;
      const timer = setTimeout(() => {
        fail(
          opened
            ? new ConnectionError(
                `connected to ${display} but the agent did not finish the handshake within ${seconds(connectTimeoutMs)}; is NSLAB_URL pointing at an nslab agent?`,
              )
            : new ConnectionError(`timed out after ${seconds(connectTimeoutMs)} connecting to the agent at ${display}`),
        );
      }, connectTimeoutMs);
      const fail = (err: CliError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.helloWaiter = undefined;
        client.connectionErrorWaiter = undefined;
        client.closingOnPurpose = true;
        client.rejectAll(err);
        ws.terminate();
        reject(err);
      };
      const succeed = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.connectionErrorWaiter = undefined;
        resolve(client);
      };

      ws.on('open', () => {
        opened = true;
      });
      ws.on('unexpected-response', (_req, res: IncomingMessage) => {
        res.resume();
        fail(client.httpError(res.statusCode ?? 0));
      });
      ws.on('error', (err) => {
        client.lastError = err;
        if (!settled) fail(client.socketError(err));
      });
      ws.on('close', (code, reasonBuf) => {
        const reason = reasonBuf.toString('utf8');
        if (!settled) {
          if (AUTH_CLOSE_CODES.has(code)) fail(client.refused(reason || `close code ${code}`));
          else fail(new ConnectionError(`the agent at ${display} closed the connection before it was ready (code ${code}${reason ? `: ${reason}` : ''})`));
          return;
        }
        client.handleClose(code, reason);
      });
      ws.on('message', (data, isBinary) => client.handleMessage(data, isBinary));

      client.connectionErrorWaiter = fail;
      client.helloWaiter = (hello) => {
        client.helloWaiter = undefined;
        if (checkHello(hello) !== null || hello.version !== PROTOCOL_VERSION) {
          fail(
            new ConnectionError(
              `the agent at ${display} speaks protocol version ${hello.version} but this nslab speaks version ${PROTOCOL_VERSION}; use the nslab command from the same checkout as the agent`,
            ),
          );
          return;
        }
        if (hello.authenticated) {
          succeed();
          return;
        }
        if (!opts.token) {
          fail(new AuthError(opts.noTokenHint ?? 'the agent wants a token: set NSLAB_TOKEN'));
          return;
        }
        // The header did not do it (a proxy may have dropped it): authenticate with a message.
        client.request({ type: 'auth', token: opts.token }, { timeoutMs: connectTimeoutMs }).then(
          () => succeed(),
          (err: unknown) => fail(err instanceof AgentError ? client.refused(err.message) : (err as CliError)),
        );
      };
    });
  }

  /** Send a request and wait for its result's `data`. Rejects with AgentError, ConnectionError or CliError. */
  request(msg: RequestMessage, options: { timeoutMs?: number } = {}): Promise<unknown> {
    if (this.closedMessage !== null || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new ConnectionError(this.closedMessage ?? `not connected to the agent at ${this.opts.displayUrl}`));
    }
    // Answers are checked by each command (only the fields it uses, with its own messages).
    const { id, text, result } = this.requests.make(msg as RequestOf<RequestType> & { type: RequestType }, 0, false);
    const size = Buffer.byteLength(text);
    if (size > MAX_CLIENT_MESSAGE_BYTES) {
      this.requests.cancel(id, new CliError(`the ${msg.type} request is too large for the agent: ${size} bytes, at most ${MAX_CLIENT_MESSAGE_BYTES}`));
      return result;
    }
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    const timer =
      timeoutMs > 0
        ? setTimeout(
            () =>
              this.requests.cancel(
                id,
                new ConnectionError(`the agent at ${this.opts.displayUrl} did not answer the ${msg.type} request within ${seconds(timeoutMs)}`),
              ),
            timeoutMs,
          )
        : undefined;
    this.ws.send(text, (err) => {
      if (err) this.requests.cancel(id, new ConnectionError(`could not send the ${msg.type} request to the agent: ${err.message}`));
    });
    return result.finally(() => {
      if (timer) clearTimeout(timer);
    });
  }

  /** Send a message that gets no answer. Returns false (and sends nothing) when the connection is gone. */
  notify(msg: NoticeMessage): boolean {
    if (this.closedMessage !== null || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  onFrame(fn: (frame: OutputFrame) => void): () => void {
    this.frameListeners.add(fn);
    return () => this.frameListeners.delete(fn);
  }

  onEvent(fn: (event: ServerEvent) => void): () => void {
    this.eventListeners.add(fn);
    return () => this.eventListeners.delete(fn);
  }

  /** Called once if the connection drops (not when we close it), with a message for the user. */
  onClose(fn: (message: string) => void): () => void {
    this.closeListeners.add(fn);
    return () => this.closeListeners.delete(fn);
  }

  get isOpen(): boolean {
    return this.closedMessage === null && this.ws.readyState === WebSocket.OPEN;
  }

  /** Close the connection; resolves when it is closed (forcibly after a second). */
  close(): Promise<void> {
    this.closingOnPurpose = true;
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 1000);
      timer.unref();
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
      else if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    });
  }

  private handleMessage(data: RawData, isBinary: boolean): void {
    if (isBinary) {
      const frame = decodeFrame(toBuffer(data));
      if (frame) for (const fn of [...this.frameListeners]) fn(frame);
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(toBuffer(data).toString('utf8'));
    } catch {
      return;
    }
    const parsed = ServerMessage.safeParse(json);
    if (!parsed.success) return; // a message this version does not know: ignore it
    const msg = parsed.data;
    switch (msg.type) {
      case 'hello':
        this.helloWaiter?.(msg);
        return;
      case 'result':
        this.requests.settle(msg);
        return;
      case 'error': {
        if (msg.id === null) {
          // Too fast for a notice (input without an id): nothing pending failed.
          if (msg.code === 'rate-limited') return;
          // Not about one request: about the connection (unauthenticated, bad-json...).
          const err = msg.code === 'unauthenticated' ? this.refused(msg.message) : new CliError(msg.message);
          if (this.connectionErrorWaiter) this.connectionErrorWaiter(err);
          else this.rejectAll(err);
          return;
        }
        this.requests.settle(msg);
        return;
      }
      default:
        for (const fn of [...this.eventListeners]) fn(msg);
    }
  }

  private rejectAll(err: Error): void {
    this.requests.failAll(err);
  }

  private handleClose(code: number, reason: string): void {
    if (this.closedMessage !== null) return;
    let why = '';
    if (reason) why = `: ${reason}`;
    else if (this.lastError) why = `: ${this.lastError.message}`;
    else if (code === 1006) why = ' (closed abnormally; did the agent stop?)';
    else if (code !== 1000 && code !== 1005) why = ` (close code ${code})`;
    const message = `lost the connection to the agent at ${this.opts.displayUrl}${why}`;
    this.closedMessage = message;
    this.rejectAll(AUTH_CLOSE_CODES.has(code) ? this.refused(reason || `close code ${code}`) : new ConnectionError(message));
    if (this.closingOnPurpose) return;
    for (const fn of [...this.closeListeners]) fn(message);
  }

  private tokenDescription(): string {
    return this.opts.tokenSource ? `the token from ${this.opts.tokenSource}` : 'the token';
  }

  /** The agent said no to our credentials. */
  private refused(detail: string): AuthError {
    if (!this.opts.token) return new AuthError(this.opts.noTokenHint ?? `the agent at ${this.opts.displayUrl} wants a token: set NSLAB_TOKEN`);
    return new AuthError(
      `the agent at ${this.opts.displayUrl} refused ${this.tokenDescription()} (${detail}); check NSLAB_TOKEN, or the agent's token in /run/nslab/token`,
    );
  }

  private httpError(status: number): CliError {
    const display = this.opts.displayUrl;
    if (status === 401 || status === 403) return this.refused(`HTTP ${status}`);
    if (status === 404) return new ConnectionError(`${display} answered HTTP 404 for ${WS_PATH}: is NSLAB_URL pointing at an nslab agent?`);
    return new ConnectionError(`${display} answered HTTP ${status} instead of opening a WebSocket at ${WS_PATH}; is NSLAB_URL pointing at an nslab agent?`);
  }

  private socketError(err: Error): CliError {
    const display = this.opts.displayUrl;
    const code = (err as NodeJS.ErrnoException).code;
    switch (code) {
      case 'ECONNREFUSED':
        return new ConnectionError(
          `the agent is not running at ${display} (connection refused). Start it with \`npm start\` in the nslab checkout, or set NSLAB_URL to where it runs`,
        );
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return new ConnectionError(`cannot find the host of ${display} (${code}); check NSLAB_URL`);
      case 'ETIMEDOUT':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return new ConnectionError(`cannot reach the agent at ${display} (${code}); check NSLAB_URL and that the agent is running`);
      default:
        return new ConnectionError(`cannot connect to the agent at ${display}: ${err.message}`);
    }
  }
}

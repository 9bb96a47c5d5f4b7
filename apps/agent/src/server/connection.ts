// One WebSocket client: authenticates it, validates each message, routes it to the lab manager,
// and streams the panes it attached to. Bad input gets an error message; the connection and the
// agent carry on. Who may do what:
//   token holder     every lab, everything;
//   browser session  the labs it opened, everything;
//   read-only link   (`view`) one lab: attach, watch and inspect; never input, resize or exec.
import type { WebSocket, RawData } from 'ws';
import {
  ClientMessage,
  PROTOCOL_VERSION,
  SUPPORTED_VERSIONS,
  describeZodError,
  type AttachResult,
  type ErrorCode,
  type Picture,
  type ServerMessage,
  type TaskStatus,
} from '@nslab/shared';
import type { LabManager } from '../sandbox/labs.js';
import { LimitError, UnknownLessonError } from '../sandbox/labs.js';
import type { Lab } from '../sandbox/lab.js';
import type { Pane } from '../sandbox/pane.js';
import { tokenMatches } from './auth.js';
import { takePictureWithFacts } from '../inspect/picture.js';
import { PaneStream } from './stream.js';
import type { LabWatchers } from '../lessons/watchers.js';
import type { Catalogue } from '../lessons/catalogue.js';
import type { Shares } from './share.js';
import type { Presence } from './presence.js';
import { TokenBucket, type KeyedBuckets } from './rate.js';
import type { Metrics } from './metrics.js';

type RequestId = string | number | null;

/** A message that is (most likely) an acknowledgement, told apart before parsing. */
const ACK_PREFIX = /^\{"type":"ack",/;

export class ClientError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Who is on the other end: the token holder (every lab), or a browser session (its own labs). */
export type Principal = { kind: 'token' } | { kind: 'session'; sid: string };

export interface RateLimits {
  /** Messages of any kind per connection. */
  messages: { burst: number; perSecond: number };
  /** Input bytes per connection (typing and pasting). */
  inputBytes: { burst: number; perSecond: number };
}

/** What every connection shares: the labs and the agent-wide bookkeeping around them. */
export interface ConnectionContext {
  manager: LabManager<Catalogue>;
  /** Task checks and namespace pictures of the labs, for clients that watch them. */
  watchers: LabWatchers;
  token: string;
  shares: Shares;
  presence: Presence;
  rates: RateLimits;
  /** Lab creation per browser session, and per client address. */
  opensPerSession: KeyedBuckets;
  opensPerAddress: KeyedBuckets;
  /** Wrong tokens per address. */
  authFailures: KeyedBuckets;
  log: (level: 'info' | 'warn', msg: string, extra?: Record<string, unknown>) => void;
  metrics: Metrics | null;
}

export class Connection {
  private authenticated: boolean;
  private readonly streams = new Map<string, { stream: PaneStream; off: () => void }>();
  private readonly watching = new Map<string, () => void>();
  /** Labs this connection may watch through a read-only link. */
  private readonly viewing = new Set<string>();
  private readonly messages: TokenBucket;
  private readonly acks = new TokenBucket(20_000, 10_000);
  private readonly input: TokenBucket;
  private closed = false;
  /** The owner revoked the links: a viewer who came in through one is detached from the lab. */
  private readonly onRevoked = (id: string) => {
    if (!this.viewing.delete(id)) return;
    const lab = this.ctx.manager.get(id);
    if (lab && this.mayUse(lab)) return; // also its own: nothing to take away
    for (const [key, { off }] of [...this.streams]) if (key.startsWith(`${id}/`)) off();
    this.watching.get(id)?.();
    this.send({ type: 'lab-closed', lab: id, reason: 'the read-only link was revoked' });
  };
  private readonly onClosing = (lab: Lab, reason: string, inMs: number) => {
    if (this.watching.has(lab.id) || [...this.streams.keys()].some((k) => k.startsWith(`${lab.id}/`))) {
      this.send({ type: 'lab-closing', lab: lab.id, reason, inMs: Math.round(inMs) });
    }
  };

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: ConnectionContext,
    private principal: Principal | null,
    /** The client's address, for per-client limits. */
    private readonly address: string,
    requestedVersion: number | null,
  ) {
    this.authenticated = principal !== null;
    ctx.metrics?.connections.inc();
    this.messages = new TokenBucket(ctx.rates.messages.burst, ctx.rates.messages.perSecond);
    this.input = new TokenBucket(ctx.rates.inputBytes.burst, ctx.rates.inputBytes.perSecond);
    ctx.manager.on('closing', this.onClosing);
    ctx.shares.on('revoked', this.onRevoked);
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => this.cleanup());
    ws.on('error', () => this.cleanup());
    this.send({ type: 'hello', version: PROTOCOL_VERSION, versions: [...SUPPORTED_VERSIONS], authenticated: this.authenticated });
    if (requestedVersion !== null && !SUPPORTED_VERSIONS.includes(requestedVersion)) {
      this.error(null, 'bad-message', `protocol version ${requestedVersion} is not supported; this agent speaks ${SUPPORTED_VERSIONS.join(', ')}`);
      ws.close(4002, 'unsupported protocol version');
    }
  }

  private send(msg: ServerMessage) {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private error(id: RequestId, code: ErrorCode, message: string) {
    const m = this.ctx.metrics;
    if (m) {
      m.errors.inc({ code });
      if (code === 'rate-limited') m.limitHits.inc({ limit: 'rate' });
      if (code === 'limit') m.limitHits.inc({ limit: 'labs' });
    }
    this.send({ type: 'error', id, code, message });
  }

  private onMessage(data: RawData, isBinary: boolean) {
    // Acknowledgements are as many as the frames the agent chose to send, and one that is lost
    // could leave a pane held: they have a bucket of their own, and the excess is dropped quietly.
    if (!isBinary && Buffer.isBuffer(data) && data.length < 160) {
      const text = data.toString();
      if (ACK_PREFIX.test(text)) {
        if (this.acks.take()) this.onText(text, true);
        return;
      }
    }
    if (!this.messages.take()) {
      return this.error(rawIdOf(data, isBinary), 'rate-limited', `too many messages; at most ${this.ctx.rates.messages.perSecond} a second`);
    }
    if (isBinary) return this.error(null, 'bad-message', 'binary frames are not accepted from clients; send JSON text messages');
    this.onText(data.toString());
  }

  private onText(text: string, asAck = false) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return this.error(null, 'bad-json', 'the message is not valid JSON');
    }
    const id = rawId(raw);
    const parsed = ClientMessage.safeParse(raw);
    if (!parsed.success) return this.error(id, 'bad-message', describeZodError(parsed.error));
    const msg = parsed.data;
    // Only a real ack rides the acks' bucket (JSON keeps the last of two "type" keys).
    if (asAck && msg.type !== 'ack' && !this.messages.take()) {
      return this.error(id, 'rate-limited', `too many messages; at most ${this.ctx.rates.messages.perSecond} a second`);
    }
    if (msg.type === 'auth') return this.auth(msg.token, msg.id);
    // A viewer without credentials reaches only the lab its link names (and is told it is read-only).
    const viewed = 'lab' in msg && this.viewing.has(msg.lab);
    if (!this.authenticated && msg.type !== 'view' && !viewed) {
      return this.error(id, 'unauthenticated', 'send {"type":"auth","token":...} first, or an Authorization header');
    }
    this.handle(msg).then(
      (result) => {
        if (result !== undefined && 'id' in msg && msg.id !== undefined) this.send({ type: 'result', id: msg.id, data: result });
      },
      (err: unknown) => {
        const e = err as Error;
        const code: ErrorCode =
          err instanceof ClientError ? err.code : err instanceof LimitError ? 'limit' : err instanceof UnknownLessonError ? 'unknown-lesson' : 'failed';
        if (code === 'failed') this.ctx.log('warn', 'request failed', { type: msg.type, error: e.message });
        this.error(id, code, e.message);
      },
    );
  }

  private auth(token: string, id: string | number | undefined) {
    this.authenticated = tokenMatches(this.ctx.token, token);
    if (!this.authenticated) {
      this.ctx.authFailures.take(this.address);
      this.error(id ?? null, 'unauthenticated', 'wrong token');
      this.ws.close(4001, 'wrong token');
      return;
    }
    this.principal = { kind: 'token' };
    if (id !== undefined) this.send({ type: 'result', id, data: { authenticated: true } });
  }

  /** The session's own id, or null for the token holder. */
  private get owner(): string | null {
    return this.principal?.kind === 'session' ? this.principal.sid : null;
  }

  private mayUse(lab: Lab): boolean {
    return this.principal?.kind === 'token' || (lab.owner !== null && lab.owner === this.owner);
  }

  /** A lab this connection may write to (`write`) or at least watch (`read`). */
  private lab(id: string, need: 'read' | 'write' = 'write'): Lab {
    const lab = this.ctx.manager.get(id);
    if (lab && this.mayUse(lab)) return lab;
    if (lab && this.viewing.has(id)) {
      if (need === 'read') return lab;
      throw new ClientError('read-only', `lab ${id} is shared with you read-only: you can watch it, not type into it or change it`);
    }
    // Another session's lab is answered exactly like one that does not exist.
    throw new ClientError('unknown-lab', `no open lab ${id}`);
  }

  private pane(lab: Lab, name: string): Pane {
    const pane = lab.pane(name);
    if (!pane) throw new ClientError('unknown-pane', `lab ${lab.id} has no pane "${name}" (it has: ${[...lab.panes.keys()].join(', ')})`);
    return pane;
  }

  private async handle(msg: Exclude<ClientMessage, { type: 'auth' }>): Promise<unknown> {
    const { manager } = this.ctx;
    switch (msg.type) {
      case 'lessons':
        return manager.catalogue.list().map(({ def, titles }) => ({
          id: def.id,
          title: def.title,
          titles,
          panes: def.panes.map((p) => ({ name: p.name, unshare: p.unshare })),
        }));
      case 'open': {
        if (this.principal?.kind !== 'token') this.limitOpens();
        const lab = await manager.open(msg.lesson, this.owner);
        if (this.owner) lab.address = this.address;
        if (this.closed) {
          // The client left while its lab was being made: it gets the grace period like any other.
          this.ctx.presence.hold(lab.id, this);
          this.ctx.presence.release(lab.id, this);
        } else this.ctx.presence.hold(lab.id, this);
        return lab.info();
      }
      case 'list':
        return manager
          .list()
          .filter((l) => this.mayUse(l))
          .map((l) => l.info());
      case 'close': {
        this.lab(msg.lab);
        await manager.close(msg.lab);
        return { closed: true };
      }
      case 'exec': {
        const lab = this.lab(msg.lab);
        const pane = this.pane(lab, msg.pane);
        if (!pane.running) throw new ClientError('pane-not-running', `pane ${pane.name} has exited; restart it first`);
        lab.touch();
        return lab.exec(pane, msg.argv, {
          stdin: msg.stdin !== undefined ? Buffer.from(msg.stdin, 'base64') : undefined,
          timeoutMs: msg.timeoutMs,
        });
      }
      case 'attach': {
        const lab = this.lab(msg.lab, 'read');
        const pane = this.pane(lab, msg.pane);
        const readOnly = !this.mayUse(lab);
        if (!readOnly) {
          this.ctx.presence.hold(lab.id, this);
          if (msg.cols && msg.rows) pane.resize(msg.cols, msg.rows);
        }
        await this.attach(lab, pane, readOnly, msg.from, (result) => this.send({ type: 'result', id: msg.id, data: result }));
        return undefined;
      }
      case 'detach': {
        this.streams.get(`${msg.lab}/${msg.pane}`)?.off();
        return msg.id !== undefined ? { detached: true } : undefined;
      }
      case 'ack': {
        this.streams.get(`${msg.lab}/${msg.pane}`)?.stream.ack(msg.offset);
        return undefined;
      }
      case 'focus': {
        this.streams.get(`${msg.lab}/${msg.pane}`)?.stream.use();
        return undefined;
      }
      case 'input': {
        const lab = this.lab(msg.lab);
        const pane = this.pane(lab, msg.pane);
        if (!pane.running) throw new ClientError('pane-not-running', `pane ${pane.name} has exited`);
        const bytes = Buffer.from(msg.data);
        if (!this.input.take(bytes.length)) {
          throw new ClientError(
            'rate-limited',
            `input refused: more than ${this.ctx.rates.inputBytes.perSecond} bytes a second; send it again in ${this.input.waitFor(bytes.length)} s`,
          );
        }
        lab.touch();
        // The client that types is the one in use: flow control follows it.
        this.streams.get(`${lab.id}/${pane.name}`)?.stream.use();
        pane.write(bytes);
        this.ctx.metrics?.bytesIn.inc(bytes.length);
        return msg.id !== undefined ? { written: bytes.length } : undefined;
      }
      case 'resize': {
        this.pane(this.lab(msg.lab), msg.pane).resize(msg.cols, msg.rows);
        return undefined;
      }
      case 'restart': {
        const lab = this.lab(msg.lab);
        const pane = this.pane(lab, msg.pane);
        lab.touch();
        await lab.startPane(pane);
        return pane.info();
      }
      case 'watch': {
        const lab = this.lab(msg.lab, 'read');
        if (this.mayUse(lab)) this.ctx.presence.hold(lab.id, this);
        this.watch(lab);
        const w = this.ctx.watchers.of(lab);
        return { tasks: w?.tasks ?? [], picture: w?.picture ?? null };
      }
      case 'unwatch': {
        this.watching.get(msg.lab)?.();
        return msg.id !== undefined ? { watching: false } : undefined;
      }
      case 'check': {
        const lab = this.lab(msg.lab);
        const w = this.ctx.watchers.of(lab);
        await w?.tick();
        return { tasks: w?.tasks ?? [] };
      }
      case 'inspect':
        return takePictureWithFacts(this.lab(msg.lab, 'read'));
      case 'share': {
        const lab = this.lab(msg.lab);
        if (msg.revoke) {
          this.ctx.shares.revoke(lab.id);
          return { revoked: true };
        }
        return { token: this.ctx.shares.mint(lab.id) };
      }
      case 'view': {
        const id = this.ctx.shares.verify(msg.token);
        const lab = id ? manager.get(id) : undefined;
        if (!lab) throw new ClientError('bad-link', 'this read-only link is not valid: the lab has closed or its owner revoked the link');
        this.viewing.add(lab.id);
        return { ...lab.info(), readOnly: true };
      }
    }
  }

  /** Lab creation per browser session and per address: a clear "come back later" when over. */
  private limitOpens() {
    const cap = this.ctx.manager.config.labsPerAddress;
    const mine = this.owner ? this.ctx.manager.list().filter((l) => l.owner === this.owner).length : 0;
    const here = this.ctx.manager.list().filter((l) => l.address === this.address).length;
    // A session at its own cap replaces its oldest lab, so it does not add one here.
    if (cap > 0 && here >= cap && mine < this.ctx.manager.config.labsPerSession) {
      throw new LimitError(`${here} labs are already open from your address; close one, or come back later`);
    }
    const checks: Array<[KeyedBuckets, string]> = [[this.ctx.opensPerAddress, this.address]];
    if (this.owner) checks.unshift([this.ctx.opensPerSession, this.owner]);
    for (const [buckets, key] of checks) {
      const { ok, retryInS } = buckets.take(key);
      if (!ok) throw new ClientError('rate-limited', `too many labs opened from here; come back in ${retryInS} s`);
    }
  }

  private watch(lab: Lab) {
    const w = this.ctx.watchers.of(lab);
    if (this.watching.has(lab.id) || !w) return;
    const onTasks = (tasks: TaskStatus[]) => this.send({ type: 'tasks', lab: lab.id, tasks });
    const onPicture = (picture: Picture) => this.send({ type: 'picture', lab: lab.id, picture });
    w.on('tasks', onTasks);
    w.on('picture', onPicture);
    const stop = w.watch();
    this.watching.set(lab.id, () => {
      w.off('tasks', onTasks);
      w.off('picture', onPicture);
      stop();
      this.watching.delete(lab.id);
    });
  }

  private async attach(lab: Lab, pane: Pane, readOnly: boolean, from: number | undefined, announce: (r: AttachResult) => void) {
    const key = `${lab.id}/${pane.name}`;
    // Attaching again (a client that reset its terminal) starts a fresh replay.
    this.streams.get(key)?.off();
    const stream = new PaneStream(pane, key, readOnly, {
      frame: (bytes) => {
        if (this.ws.readyState !== this.ws.OPEN) return false;
        this.ws.send(bytes, { binary: true });
        this.ctx.metrics?.bytesOut.inc(bytes.length);
        return true;
      },
    });
    const onExit = (exitCode: number | null, signal: number | null) =>
      this.send({ type: 'pane-exit', lab: lab.id, pane: pane.name, exitCode, signal });
    const onStart = () => this.send({ type: 'pane-start', lab: lab.id, pane: pane.name });
    const onResize = (cols: number, rows: number) => this.send({ type: 'pane-size', lab: lab.id, pane: pane.name, cols, rows });
    const onClosed = (closed: Lab, reason: string) => {
      if (closed === lab) this.send({ type: 'lab-closed', lab: lab.id, reason });
    };
    pane.on('exit', onExit);
    pane.on('start', onStart);
    pane.on('resize', onResize);
    this.ctx.manager.on('closed', onClosed);
    const off = () => {
      stream.stop();
      pane.off('exit', onExit);
      pane.off('start', onStart);
      pane.off('resize', onResize);
      this.ctx.manager.off('closed', onClosed);
      if (this.streams.get(key)?.stream === stream) this.streams.delete(key);
    };
    this.streams.set(key, { stream, off });
    await stream.start(from, announce);
  }

  private cleanup() {
    if (this.closed) return;
    this.closed = true;
    this.ctx.metrics?.connections.dec();
    this.ctx.manager.off('closing', this.onClosing);
    this.ctx.shares.off('revoked', this.onRevoked);
    for (const { off } of [...this.streams.values()]) off();
    for (const off of [...this.watching.values()]) off();
    this.ctx.presence.releaseAll(this);
  }
}

function rawId(raw: unknown): RequestId {
  if (raw && typeof raw === 'object' && 'id' in raw) {
    const id = (raw as { id: unknown }).id;
    if (typeof id === 'number' || (typeof id === 'string' && id.length <= 64)) return id;
  }
  return null;
}

/** The id of a message refused before parsing, when it is cheap to find. */
function rawIdOf(data: RawData, isBinary: boolean): RequestId {
  if (isBinary) return null;
  try {
    return rawId(JSON.parse(data.toString()));
  } catch {
    return null;
  }
}

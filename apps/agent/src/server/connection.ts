// One WebSocket client, the transport part: the hello and the version check, each message
// measured against its rates, parsed (JSON) and validated (zod), authenticated, handed to its
// handler (handlers.ts), and its result or error sent back. Bad input gets an error message; the
// connection and the agent carry on. Who may do what: access.ts; what it follows:
// subscriptions.ts; may it open a lab: admission.ts.
import type { WebSocket, RawData } from 'ws';
import { ClientMessage, PROTOCOL_VERSION, SUPPORTED_VERSIONS, describeZodError, type ErrorCode, type ServerMessage } from '@nslab/shared';
import { DrainingError, LimitError, UnknownLessonError } from '../sandbox/labs.js';
import { PaneError } from '../sandbox/lab.js';
import { tokenMatches } from './auth.js';
import { TokenBucket } from './rate.js';
import { Access, type Principal } from './access.js';
import { Subscriptions } from './subscriptions.js';
import { Room } from './room.js';
import { WorkshopError } from '../workshops/errors.js';
import { HANDLERS, type HandlerScope } from './handlers.js';
import { ClientError } from './errors.js';
import type { ConnectionContext } from './context.js';

export { ClientError } from './errors.js';
export type { Principal } from './access.js';
export type { ConnectionContext, RateLimits } from './context.js';

type RequestId = string | number | null;

/** A message that is (most likely) an acknowledgement, told apart before parsing. */
const ACK_PREFIX = /^\{"type":"ack",/;

export class Connection {
  private readonly access: Access;
  private readonly subs: Subscriptions;
  private readonly room: Room;
  private readonly scope: HandlerScope;
  private readonly messages: TokenBucket;
  private readonly acks = new TokenBucket(20_000, 10_000);
  private closed = false;
  /** The owner revoked the links: a viewer who came in through one is detached from the lab. */
  private readonly onRevoked = (id: string) => {
    if (!this.access.viewing.delete(id)) return;
    const lab = this.ctx.manager.get(id);
    if (lab && this.access.mayUse(lab)) return; // also its own: nothing to take away
    this.subs.dropLab(id);
    this.send({ type: 'lab-closed', lab: id, reason: 'the read-only link was revoked' });
  };

  constructor(
    private readonly ws: WebSocket,
    private readonly ctx: ConnectionContext,
    principal: Principal | null,
    /** The client's address, for per-client limits. */
    private readonly address: string,
    requestedVersion: number | null,
  ) {
    this.access = new Access(ctx.manager, principal);
    this.subs = new Subscriptions(ctx.manager, ctx.watchers, {
      send: (m) => this.send(m),
      frame: (bytes) => {
        if (this.ws.readyState !== this.ws.OPEN) return false;
        this.ws.send(bytes, { binary: true });
        this.ctx.metrics?.bytesOut.inc(bytes.length);
        return true;
      },
    });
    this.room = new Room(ctx.workshops, ctx.takeovers, (m) => this.send(m));
    // An instructor whose learner allowed a take-over may type in that learner's lab.
    this.access.alsoMayUse = (lab) => this.room.instructing.size > 0 && ctx.takeovers.allows(lab.id, this.room.instructing);
    this.messages = new TokenBucket(ctx.rates.messages.burst, ctx.rates.messages.perSecond);
    this.scope = {
      ctx,
      access: this.access,
      subs: this.subs,
      room: this.room,
      input: new TokenBucket(ctx.rates.inputBytes.burst, ctx.rates.inputBytes.perSecond),
      address,
      holder: this,
      closed: () => this.closed,
      announce: (id, data) => this.send({ type: 'result', id, data }),
    };
    ctx.metrics?.connections.inc();
    ctx.shares.on('revoked', this.onRevoked);
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => this.cleanup());
    ws.on('error', () => this.cleanup());
    this.send({ type: 'hello', version: PROTOCOL_VERSION, versions: [...SUPPORTED_VERSIONS], authenticated: this.access.authenticated });
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
    const viewed = 'lab' in msg && this.access.viewing.has(msg.lab);
    if (!this.access.authenticated && msg.type !== 'view' && !viewed) {
      return this.error(id, 'unauthenticated', 'send {"type":"auth","token":...} first, or an Authorization header');
    }
    const handler = HANDLERS[msg.type] as (scope: HandlerScope, m: typeof msg) => unknown;
    Promise.resolve()
      .then(() => handler(this.scope, msg))
      .then(
        (result) => {
          if (result !== undefined && 'id' in msg && msg.id !== undefined) this.send({ type: 'result', id: msg.id, data: result });
        },
        (err: unknown) => {
          const e = err as Error;
          const code: ErrorCode =
            err instanceof ClientError || err instanceof WorkshopError || err instanceof PaneError
              ? err.code
              : err instanceof DrainingError
                ? 'draining'
                : err instanceof LimitError
                  ? 'limit'
                  : err instanceof UnknownLessonError
                    ? 'unknown-lesson'
                    : 'failed';
          if (code === 'failed') this.ctx.log('warn', 'request failed', { type: msg.type, error: e.message });
          this.error(id, code, e.message);
        },
      );
  }

  private auth(token: string, id: string | number | undefined) {
    if (!tokenMatches(this.ctx.token, token)) {
      this.access.principal = null;
      this.ctx.authFailures.take(this.address);
      this.error(id ?? null, 'unauthenticated', 'wrong token');
      this.ws.close(4001, 'wrong token');
      return;
    }
    this.access.principal = { kind: 'token' };
    if (id !== undefined) this.send({ type: 'result', id, data: { authenticated: true } });
  }

  private cleanup() {
    if (this.closed) return;
    this.closed = true;
    this.ctx.metrics?.connections.dec();
    this.ctx.shares.off('revoked', this.onRevoked);
    this.subs.close();
    this.room.close();
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

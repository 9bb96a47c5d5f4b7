// The protocol client core, shared by every client (the web page, the CLI, the bench and the
// soak harness) and the agent's request handlers: what each request answers (RESULTS, typed as
// ResultOf), a request tracker (ids, pending requests with their timeouts, settling them from
// the agent's answers, failing them all when the connection goes), the version handshake, and
// the one error type for an agent's refusal. No transport here: each client brings its socket.
import { z } from 'zod';
import {
  type ClientMessage,
  ExecResult,
  LabInfo,
  PaneInfo,
  Picture,
  PROTOCOL_VERSION,
  SUPPORTED_VERSIONS,
  type ErrorCode,
  type ServerMessage,
} from './protocol.js';
import { TaskStatus } from './lesson-format.js';
import { WORKSHOP_RESULTS } from './workshop.js';
import { PORTAL_RESULTS } from './portal.js';

export const LessonSummary = z.object({
  id: z.string(),
  title: z.string(),
  titles: z.record(z.string(), z.string()),
  panes: z.array(z.object({ name: z.string(), unshare: z.array(z.string()) })),
});
export type LessonSummary = z.infer<typeof LessonSummary>;

export const AttachResultSchema = z.object({
  attached: z.literal(true),
  running: z.boolean(),
  readOnly: z.boolean(),
  cols: z.number(),
  rows: z.number(),
  replay: z.enum(['snapshot', 'resume']),
  offset: z.number(),
});

/** What the agent answers to each request type (for the messages sent with an `id`). */
export const RESULTS = {
  auth: z.object({ authenticated: z.literal(true) }),
  lessons: z.array(LessonSummary),
  open: LabInfo,
  list: z.array(LabInfo),
  close: z.object({ closed: z.literal(true) }),
  exec: ExecResult,
  attach: AttachResultSchema,
  detach: z.object({ detached: z.literal(true) }),
  input: z.object({ written: z.number() }),
  resize: z.undefined(),
  restart: PaneInfo,
  'pane-add': PaneInfo,
  'pane-close': z.object({ closed: z.array(z.string()) }),
  watch: z.object({ tasks: z.array(TaskStatus), picture: Picture.nullable() }),
  unwatch: z.object({ watching: z.literal(false) }),
  check: z.object({ tasks: z.array(TaskStatus) }),
  inspect: Picture,
  share: z.union([z.object({ token: z.string() }), z.object({ revoked: z.literal(true) })]),
  view: LabInfo.extend({ readOnly: z.literal(true) }),
  progress: z.object({ tasks: z.array(z.object({ lesson: z.string(), task: z.string(), doneAt: z.string() })) }),
  ...WORKSHOP_RESULTS,
  ...PORTAL_RESULTS,
} as const satisfies Partial<Record<ClientMessage['type'], z.ZodTypeAny>>;

export type RequestType = keyof typeof RESULTS;
export type ResultOf<T extends RequestType> = z.infer<(typeof RESULTS)[T]>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A request as a client writes it: the message without the id the tracker assigns. */
export type RequestOf<T extends RequestType> = DistributiveOmit<Extract<ClientMessage, { type: T }>, 'id'>;
export type AnyRequest = { [T in RequestType]: RequestOf<T> }[RequestType];

/** The agent refused a request, or the connection failed it: `code` says which kind. */
export class AgentError extends Error {
  constructor(
    readonly code: ErrorCode | 'connection' | 'timeout' | 'bad-answer',
    message: string,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}

interface Pending {
  type: RequestType;
  validate: boolean;
  resolve: (v: never) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * Ids for requests, and their answers. `make` gives the text to send and a promise of the typed
 * result; feed every message from the agent to `settle`; `failAll` when the connection goes.
 */
export class RequestTracker {
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly prefix = '') {}

  /**
   * `validate`: check the answer against RESULTS (the default); a client that checks only the
   * fields it uses, with messages of its own, passes false and gets the data as it came.
   */
  make<T extends RequestType>(
    req: RequestOf<T> & { type: T },
    timeoutMs = 0,
    validate = true,
  ): { id: string | number; text: string; result: Promise<ResultOf<T>> } {
    const id: string | number = this.prefix ? `${this.prefix}${this.nextId++}` : this.nextId++;
    const result = new Promise<ResultOf<T>>((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(String(id));
              reject(new AgentError('timeout', `no answer to ${req.type} within ${Math.round(timeoutMs / 100) / 10} s`));
            }, timeoutMs)
          : null;
      this.pending.set(String(id), { type: req.type, validate, resolve: resolve as (v: never) => void, reject, timer });
    });
    return { id, text: JSON.stringify({ ...req, id }), result };
  }

  /** A message from the agent: true when it answered a pending request (and settled it). */
  settle(msg: ServerMessage): boolean {
    if (msg.type !== 'result' && msg.type !== 'error') return false;
    if (msg.id === null) return false;
    const key = String(msg.id);
    const p = this.pending.get(key);
    if (!p) return false;
    this.pending.delete(key);
    if (p.timer) clearTimeout(p.timer);
    if (msg.type === 'error') {
      p.reject(new AgentError(msg.code as ErrorCode, msg.message));
      return true;
    }
    if (!p.validate) {
      p.resolve(msg.data as never);
      return true;
    }
    const parsed = RESULTS[p.type].safeParse(msg.data);
    if (parsed.success) p.resolve(parsed.data as never);
    else p.reject(new AgentError('bad-answer', `the agent's answer to ${p.type} is not what this client understands: ${parsed.error.issues[0]?.message}`));
    return true;
  }

  /** Give up on one request (a timeout of the caller's, a failed send). */
  cancel(id: string | number, err: Error) {
    const p = this.pending.get(String(id));
    if (!p) return;
    this.pending.delete(String(id));
    if (p.timer) clearTimeout(p.timer);
    p.reject(err);
  }

  failAll(err: Error) {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
  }

  get size(): number {
    return this.pending.size;
  }
}

/** The agent's hello: null when this client can talk to it, else why not. */
export function checkHello(hello: Extract<ServerMessage, { type: 'hello' }>): string | null {
  if (hello.version === PROTOCOL_VERSION || hello.versions.includes(PROTOCOL_VERSION)) return null;
  return `the agent speaks protocol ${hello.versions.join(', ')}; this client speaks ${SUPPORTED_VERSIONS.join(', ')}: update one of them`;
}

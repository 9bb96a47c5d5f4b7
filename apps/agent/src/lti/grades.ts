// Assignment and Grade Services 2.0: as a learner launched from an LMS turns tasks done, the
// tool posts their score to the line item the launch named (<lineitem>/scores): tasks done out
// of the lesson's tasks, InProgress until all are done, then Completed. A score waits in the
// store's outbox (kind 'lti-score', in order per learner and lesson) until the platform took it;
// the outbox retries with backoff when the sender throws.
//
// The access token comes from the platform's token endpoint by the client credentials grant,
// with a client assertion the tool signs (1EdTech Security Framework, section 4.1), and is kept
// until shortly before it expires. Neither it nor the assertion is ever logged: errors name the
// endpoint and its status, nothing else.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { DeliveryError, type Outbox } from '../portal/outbox.js';
import type { OutboxRow, Store } from '../store/index.js';
import { CLIENT_ASSERTION_TYPE, SCORE_MEDIA_TYPE, SCORE_SCOPE } from './claims.js';
import type { ToolKeys } from './keys.js';
import { randomToken } from './login.js';
import { ltiPlatformId, platformById, type LtiPlatform } from './platforms.js';

/** The longest the platform may take to answer. */
const TIMEOUT_MS = 10_000;
/** A token is renewed this long before the platform says it expires (at most half its life). */
const TOKEN_MARGIN_S = 60;

export const Score = z.object({
  userId: z.string().min(1).max(255),
  scoreGiven: z.number().min(0),
  scoreMaximum: z.number().positive(),
  activityProgress: z.enum(['Initialized', 'Started', 'InProgress', 'Submitted', 'Completed']),
  gradingProgress: z.enum(['FullyGraded', 'Pending', 'PendingManual', 'Failed', 'NotReady']),
  timestamp: z.string(),
});
export type Score = z.infer<typeof Score>;

/** What an 'lti-score' message holds. */
export const ScoreMessage = z.object({ lineitem: z.string().min(1).max(2048), score: Score });
export type ScoreMessage = z.infer<typeof ScoreMessage>;

/** Where a line item's scores go: its URL with /scores added to the path (before any query). */
export function scoresUrl(lineitem: string): string {
  const u = new URL(lineitem);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/scores`;
  u.hash = '';
  return u.toString();
}

/** The score of `done` tasks out of `total`. */
export function scoreOf(userId: string, done: number, total: number, at: Date = new Date()): Score {
  const max = Math.max(1, total);
  const given = Math.min(Math.max(0, done), max);
  return {
    userId,
    scoreGiven: given,
    scoreMaximum: max,
    activityProgress: given >= max ? 'Completed' : 'InProgress',
    gradingProgress: 'FullyGraded',
    timestamp: at.toISOString(),
  };
}

export interface TaskDoneFacts {
  sessionId: string;
  lesson: string;
  tasksDone: number;
  tasksTotal: number;
  /** When the task was done (default: now): the score's timestamp. */
  at?: Date;
}

/**
 * A task done for the first time: when the session was launched from an LMS that takes grades
 * for this lesson, queue the score (and wake the outbox, when given).
 */
export async function ltiTaskDone(store: Store, facts: TaskDoneFacts, outbox?: Pick<Outbox, 'kick'>): Promise<void> {
  const target = await store.lti.ltiGradeTarget(facts.sessionId, facts.lesson);
  if (!target) return;
  const message: ScoreMessage = { lineitem: target.lineitem, score: scoreOf(target.userSub, facts.tasksDone, facts.tasksTotal, facts.at) };
  await store.outbox.enqueue({
    id: `lti_${randomBytes(18).toString('base64url')}`,
    kind: 'lti-score',
    target: target.platform,
    orderingKey: `${facts.sessionId}:${facts.lesson}`,
    event: 'lti.score',
    payload: message,
    at: facts.at,
  });
  outbox?.kick();
}

const TokenAnswer = z.looseObject({
  access_token: z.string().min(1).max(8192),
  token_type: z.string().optional(),
  expires_in: z.number().positive().optional(),
});

/** Sends the outbox's scores to their platforms. */
export class ScoreSender {
  private readonly tokens = new Map<string, { token: string; until: number }>();
  private readonly pending = new Map<string, Promise<string>>();
  private readonly fetch: typeof fetch;

  constructor(
    private readonly platforms: readonly LtiPlatform[],
    private readonly keys: ToolKeys,
    options: { fetch?: typeof fetch } = {},
  ) {
    this.fetch = options.fetch ?? fetch;
  }

  /** Deliver the 'lti-score' messages of this outbox. */
  register(outbox: Outbox): void {
    outbox.register('lti-score', (m) => this.send(m));
  }

  /** Post one message's score; throws a DeliveryError when the platform did not take it. */
  async send(m: OutboxRow): Promise<{ status: number }> {
    const p = platformById(this.platforms, m.target);
    if (!p) throw new DeliveryError('the platform is no longer registered (lti.platforms)');
    const parsed = ScoreMessage.safeParse(m.payload);
    if (!parsed.success) throw new DeliveryError('not a score message');
    const { lineitem, score } = parsed.data;
    let res = await this.post(p, lineitem, score, await this.accessToken(p));
    if (res.status === 401) {
      // The platform forgot the token (or revoked it) before it said it would: get a new one once.
      this.tokens.delete(ltiPlatformId(p));
      res = await this.post(p, lineitem, score, await this.accessToken(p));
    }
    if (res.status < 200 || res.status > 299) throw new DeliveryError(`the platform's score service answered ${res.status}`, res.status);
    return { status: res.status };
  }

  private async post(p: LtiPlatform, lineitem: string, score: Score, token: string): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetch(scoresUrl(lineitem), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': SCORE_MEDIA_TYPE, accept: 'application/json', 'user-agent': 'nslab-lti/1' },
        body: JSON.stringify(score),
        redirect: 'manual',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new DeliveryError(`the score service of ${p.issuer} did not answer: ${reason(err)}`);
    }
    await res.arrayBuffer().catch(() => undefined);
    return res;
  }

  /** A token for the score scope: the cached one while it lasts, else a new one (one request at a time). */
  private accessToken(p: LtiPlatform): Promise<string> {
    const id = ltiPlatformId(p);
    const cached = this.tokens.get(id);
    if (cached && cached.until > Date.now()) return Promise.resolve(cached.token);
    let pending = this.pending.get(id);
    if (!pending) {
      pending = this.requestToken(p).finally(() => this.pending.delete(id));
      this.pending.set(id, pending);
    }
    return pending;
  }

  private async requestToken(p: LtiPlatform): Promise<string> {
    const key = await this.keys.get();
    const assertion = await key.sign({ iss: p.clientId, sub: p.clientId, aud: p.tokenUrl, jti: randomToken() }, 300);
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: assertion,
      scope: SCORE_SCOPE,
    });
    const asked = Date.now();
    let res: Response;
    try {
      res = await this.fetch(p.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': 'nslab-lti/1' },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new DeliveryError(`the token endpoint of ${p.issuer} did not answer: ${reason(err)}`);
    }
    const text = await res.text().catch(() => '');
    if (res.status < 200 || res.status > 299) {
      // An OAuth error code (invalid_client, invalid_scope...) says what is wrong; it is no secret.
      let code = '';
      try {
        const e = (JSON.parse(text) as { error?: unknown }).error;
        if (typeof e === 'string' && /^[\w.-]{1,60}$/.test(e)) code = ` (${e})`;
      } catch {
        /* not JSON */
      }
      throw new DeliveryError(`the token endpoint of ${p.issuer} answered ${res.status}${code}`, res.status);
    }
    let answer: z.infer<typeof TokenAnswer>;
    try {
      answer = TokenAnswer.parse(JSON.parse(text));
    } catch {
      throw new DeliveryError(`the token endpoint of ${p.issuer} did not answer with an access token`, res.status);
    }
    const life = answer.expires_in ?? 3600;
    const until = asked + (life - Math.min(TOKEN_MARGIN_S, life / 2)) * 1000;
    this.tokens.set(ltiPlatformId(p), { token: answer.access_token, until });
    return answer.access_token;
  }
}

function reason(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  return e.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : (e.cause?.code ?? e.cause?.message ?? e.message);
}

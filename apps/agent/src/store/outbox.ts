// The durable outbox: messages the agent owes to other servers (webhook deliveries, LTI scores),
// written in the same store as the progress they report, so that an agent that stops (or
// crashes) delivers them after its restart. At least once, and in order per ordering key: only
// the oldest message not yet done (or given up) of a (kind, target, ordering key) is due.
import type { Selectable } from 'kysely';
import { check, eventName, instant, orderingKey, outboxKind, outboxTarget, payloadJson, type OutboxTable, ms, msOrNull } from './schema.js';
import type { Runner } from './portal.js';
import { z } from 'zod';

export type OutboxKind = 'webhook' | 'lti-score';

export interface OutboxRow {
  seq: number;
  /** The message's id (a webhook's `webhook-id`): the same at every attempt. */
  id: string;
  kind: OutboxKind;
  target: string;
  orderingKey: string;
  event: string;
  payload: unknown;
  createdAt: Date;
  nextAt: Date;
  attempts: number;
  doneAt: Date | null;
  failedAt: Date | null;
  lastError: string | null;
}

export interface OutboxAttemptRow {
  n: number;
  at: Date;
  /** The HTTP status the receiver answered, if it answered. */
  status: number | null;
  error: string | null;
  ms: number;
}

export interface EnqueueInput {
  id: string;
  kind: OutboxKind;
  target: string;
  orderingKey: string;
  event: string;
  payload: unknown;
  at?: Date | number;
}

/** What one attempt came to: done, or another try at `retryAt`, or given up (`retryAt` null). */
export interface AttemptOutcome {
  at: Date | number;
  ok: boolean;
  status: number | null;
  error: string | null;
  ms: number;
  retryAt: Date | number | null;
}

const messageId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, '8 to 64 letters, digits, dashes or underscores');
const errorText = z.string().max(2000);
const limit = z.number().int().min(1).max(1000);
const seqNo = z.number().int().min(1);

export class OutboxQueries {
  constructor(private readonly r: Runner) {}

  /** Add a message, due at once. Returns its row. */
  async enqueue(m: EnqueueInput): Promise<OutboxRow> {
    const op = 'enqueue';
    const at = check(op, 'at', instant, m.at ?? Date.now());
    const row: Omit<OutboxTable, 'seq'> = {
      id: check(op, 'id', messageId, m.id),
      kind: check(op, 'kind', outboxKind, m.kind),
      target: check(op, 'target', outboxTarget, m.target),
      ordering_key: check(op, 'orderingKey', orderingKey, m.orderingKey),
      event: check(op, 'event', eventName, m.event),
      payload: check(op, 'payload', payloadJson, JSON.stringify(m.payload)),
      created_at: at,
      next_at: at,
      attempts: 0,
      done_at: null,
      failed_at: null,
      last_error: null,
    };
    return this.r.run(op, async () => {
      const r = await this.r.db.insertInto('outbox').values(row).returningAll().executeTakeFirstOrThrow();
      return toRow(r);
    });
  }

  /**
   * Messages due at `now`, oldest first: of each (kind, target, ordering key), only the oldest
   * that is neither done nor given up, and only once its next attempt is due.
   */
  async due(now: Date | number = Date.now(), max = 50): Promise<OutboxRow[]> {
    const t = check('due', 'now', instant, now);
    const n = check('due', 'max', limit, max);
    return this.r.run('due', async () => {
      const rows = await this.r.db
        .selectFrom('outbox as o')
        .selectAll('o')
        .where('o.done_at', 'is', null)
        .where('o.failed_at', 'is', null)
        .where('o.next_at', '<=', t)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('outbox as p')
                .select('p.seq')
                .whereRef('p.kind', '=', 'o.kind')
                .whereRef('p.target', '=', 'o.target')
                .whereRef('p.ordering_key', '=', 'o.ordering_key')
                .whereRef('p.seq', '<', 'o.seq')
                .where('p.done_at', 'is', null)
                .where('p.failed_at', 'is', null),
            ),
          ),
        )
        .orderBy('o.seq')
        .limit(n)
        .execute();
      return rows.map(toRow);
    });
  }

  /** Record an attempt, and what comes of the message: done, retried later, or given up. */
  async recordAttempt(seq: number, o: AttemptOutcome): Promise<void> {
    const op = 'recordAttempt';
    const s = check(op, 'seq', seqNo, seq);
    const at = check(op, 'at', instant, o.at);
    const error = o.error === null ? null : check(op, 'error', errorText, o.error.slice(0, 2000));
    const retryAt = o.retryAt === null ? null : check(op, 'retryAt', instant, o.retryAt);
    await this.r.run(op, () =>
      this.r.db.transaction().execute(async (trx) => {
        const cur = await trx.selectFrom('outbox').select(['attempts']).where('seq', '=', s).executeTakeFirst();
        if (!cur) return;
        const n = Number(cur.attempts) + 1;
        await trx
          .insertInto('outbox_attempt')
          .values({ seq: s, n, at, status: o.status, error, ms: Math.max(0, Math.round(o.ms)) })
          .execute();
        await trx
          .updateTable('outbox')
          .set({
            attempts: n,
            last_error: o.ok ? null : error,
            ...(o.ok ? { done_at: at } : retryAt === null ? { failed_at: at } : { next_at: retryAt }),
          })
          .where('seq', '=', s)
          .execute();
      }),
    );
  }

  /** A target's messages, the newest first, with their attempts (the delivery log). */
  async log(kind: OutboxKind, target: string, max = 50): Promise<Array<OutboxRow & { tries: OutboxAttemptRow[] }>> {
    const k = check('log', 'kind', outboxKind, kind);
    const tg = check('log', 'target', outboxTarget, target);
    const n = check('log', 'max', limit, max);
    return this.r.run('log', async () => {
      const rows = (
        await this.r.db.selectFrom('outbox').selectAll().where('kind', '=', k).where('target', '=', tg).orderBy('seq', 'desc').limit(n).execute()
      ).map(toRow);
      if (!rows.length) return [];
      const tries = await this.r.db
        .selectFrom('outbox_attempt')
        .selectAll()
        .where(
          'seq',
          'in',
          rows.map((r) => r.seq),
        )
        .orderBy('seq')
        .orderBy('n')
        .execute();
      return rows.map((r) => ({
        ...r,
        tries: tries
          .filter((t) => Number(t.seq) === r.seq)
          .map((t) => ({ n: Number(t.n), at: ms(t.at), status: t.status === null ? null : Number(t.status), error: t.error, ms: Number(t.ms) })),
      }));
    });
  }

  /** Messages not yet done nor given up. */
  async pending(): Promise<number> {
    return this.r.run('pending', async () => {
      const r = await this.r.db
        .selectFrom('outbox')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('done_at', 'is', null)
        .where('failed_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(r.n);
    });
  }
}

function toRow(r: Selectable<OutboxTable>): OutboxRow {
  return {
    seq: Number(r.seq),
    id: r.id,
    kind: r.kind as OutboxKind,
    target: r.target,
    orderingKey: r.ordering_key,
    event: r.event,
    payload: JSON.parse(r.payload),
    createdAt: ms(r.created_at),
    nextAt: ms(r.next_at),
    attempts: Number(r.attempts),
    doneAt: msOrNull(r.done_at),
    failedAt: msOrNull(r.failed_at),
    lastError: r.last_error,
  };
}

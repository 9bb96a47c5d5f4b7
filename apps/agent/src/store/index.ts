// The durable store: everything about people that must outlive a reload, a browser change and
// an agent restart. One data-access module over two engines, with the same migrations and the
// same queries (the query builder speaks both dialects):
//   openStore({ dir })  embedded SQLite (WebAssembly) under the agent's state directory;
//   openStore({ url })  PostgreSQL, which several agents can share.
// Every input is checked at this boundary, every SQL parameter is bound, and every failure is
// a StoreError (see errors.ts): a rejected promise the caller can log and report, never a
// crash. Why these engines and the numbers behind it: docs/decisions/0002-store.md.
import { Kysely, sql } from 'kysely';
import { z } from 'zod';
import { StoreError, isConnectionError, reasonOf } from './errors.js';
import { MIGRATIONS, migrate, type Engine, type Migration } from './migrations.js';
import { openEmbedded } from './sqlite.js';
import type { PoolOptions } from './postgres.js';
import {
  agentIdText,
  anObject,
  broadcastText,
  check,
  entityId,
  helpText,
  instant,
  joinCode,
  keyHash,
  lessonId,
  lessonIdList,
  lessonList,
  maybeInstant,
  seatCount,
  seatName,
  secretName,
  secretValue,
  sessionId,
  sessionList,
  taskId,
  workshopTitle,
  type ClusterLabTable,
  type Database,
  type HelpRequestTable,
  labPanes,
  type WorkshopSeatTable,
  type WorkshopTable,
  ms,
  msOrNull,
} from './schema.js';

import { PortalQueries } from './portal.js';
import { OutboxQueries } from './outbox.js';
import { LtiQueries } from './lti.js';

export { StoreError, redactUrl, type StoreErrorCode } from './errors.js';
export type { ApiKeyRow, LaunchInput, LaunchRow, PortalUserInput, PortalUserRow, UseLaunchResult, WebhookEndpointRow } from './portal.js';
export type { AttemptOutcome, EnqueueInput, OutboxAttemptRow, OutboxKind, OutboxRow } from './outbox.js';
export type { LtiGradeTargetRow, LtiLoginRow } from './lti.js';
export type { Engine } from './migrations.js';
export type { PoolOptions } from './postgres.js';

/** Where the store is: a directory for the embedded engine, or a PostgreSQL URL. */
export type StoreTarget = { dir: string } | { url: string };

export interface StoreOptions {
  /**
   * Errors that happen outside any call (a pooled PostgreSQL connection that broke while
   * idle). They are already recovered from; this is for the log. Default: ignored.
   */
  onBackgroundError?: (err: StoreError) => void;
  /** PostgreSQL pool settings. */
  pool?: PoolOptions;
}

export interface TaskDone {
  lesson: string;
  task: string;
  /** The first time the task was done. */
  doneAt: Date;
}

/** A task done by one of several sessions (a workshop's room). */
export interface SessionTaskDone extends TaskDone {
  session: string;
}

/** A workshop: an instructor and a room of learners. */
export interface WorkshopRow {
  id: string;
  title: string;
  /** Lesson ids, in the workshop's order. */
  lessons: string[];
  /** Seats at most. */
  seats: number;
  /** The join code, canonical. */
  code: string;
  /** SHA-256 of the instructor key, hex; the key itself is never stored. */
  instructorKeyHash: string;
  opensAt: Date | null;
  closesAt: Date | null;
  createdAt: Date;
  /** When it was closed by hand (closesAt is when it closes by itself). */
  closedAt: Date | null;
  /** The message every learner is shown, if any. */
  broadcast: { text: string; at: Date } | null;
}

/** A learner's seat in a workshop: one per browser session and workshop. */
/** A browser session's newest lab, on the agent that holds it (several agents, docs/router.md). */
export interface SessionLab {
  session: string;
  lab: string;
  lesson: string;
  agent: string;
  connected: boolean;
  /** When the learner last typed in it (epoch ms). */
  activeAt: number;
  /** When it opened (epoch ms). */
  createdAt: number;
  /** When it closes by its lifetime, as of the row's writing (epoch ms), or null. */
  closesAt: number | null;
  panes: Array<{ name: string; running: boolean }>;
}

export interface SeatRow {
  workshopId: string;
  seatId: string;
  sessionId: string;
  /** The name the learner gave when they last joined. */
  name: string;
  /** The first time the session joined. */
  joinedAt: Date;
}

export interface HelpRow {
  id: string;
  workshopId: string;
  seatId: string;
  /** Possibly empty: a learner may just raise a hand. */
  text: string;
  askedAt: Date;
  answeredAt: Date | null;
}

/** What createWorkshop needs. Times are Dates or milliseconds since the epoch. */
export interface WorkshopInput {
  id: string;
  title: string;
  lessons: string[];
  seats: number;
  code: string;
  instructorKeyHash: string;
  opensAt?: Date | number | null;
  closesAt?: Date | number | null;
  /** Default: now. */
  createdAt?: Date | number;
}

/** What askHelp needs. */
export interface HelpInput {
  id: string;
  workshopId: string;
  seatId: string;
  text: string;
  /** Default: now. */
  at?: Date | number;
}

/** takeSeat's answer: the seat (`fresh`: taken by this call), or why there is none. */
export type TakeSeatResult = { seat: SeatRow; fresh: boolean } | 'full' | 'unknown';

export interface Store {
  readonly engine: Engine;
  /** The database file, or the URL with its password hidden: fit for a log line. */
  readonly where: string;
  /** The schema version the store is at (the last migration). */
  readonly schemaVersion: number;

  /**
   * Record that a session had a task done. The first time is kept: a later call changes
   * nothing and returns the time already stored (`first: false`).
   */
  recordTaskDone(session: string, lesson: string, task: string, at?: Date | number): Promise<{ doneAt: Date; first: boolean }>;
  /** Every task the session has done, oldest first. */
  progress(session: string): Promise<TaskDone[]>;

  getSecret(name: string): Promise<string | undefined>;
  setSecret(name: string, value: string): Promise<void>;
  /**
   * The secret's value; when there is none yet, `make()`'s is stored and returned. Agents that
   * share a database and start at once all get the one value that was stored first.
   */
  ensureSecret(name: string, make: () => string): Promise<string>;

  /**
   * Make a workshop. An id or join code another workshop already has fails with code
   * 'conflict' (draw another and try again); nothing is written then.
   */
  createWorkshop(w: WorkshopInput): Promise<WorkshopRow>;
  getWorkshop(id: string): Promise<WorkshopRow | undefined>;
  /** The workshop with this join code (canonical form: capital letters and digits). */
  workshopByCode(code: string): Promise<WorkshopRow | undefined>;
  /** Every workshop, newest first. */
  listWorkshops(): Promise<WorkshopRow[]>;
  /** Close a workshop by hand. False when there is no such workshop or it was closed already (the first time is kept). */
  closeWorkshop(id: string, at?: Date | number): Promise<boolean>;
  /** Replace the instructor key's hash. False when there is no such workshop. */
  setInstructorKeyHash(id: string, hash: string): Promise<boolean>;
  /** Show `text` to every learner from `at` on; null or '' clears it. False when there is no such workshop. */
  setBroadcast(id: string, text: string | null, at?: Date | number): Promise<boolean>;
  /**
   * Give a browser session a seat in a workshop. A session that has one already gets it back
   * (`fresh: false`, with `name` as its new name; its seat id and join time stay); otherwise
   * a new seat with id `seatId` is taken if fewer than the workshop's seats are, else 'full'.
   * 'unknown': there is no such workshop. Atomic: however many sessions join at once, no more
   * seats than the workshop has are ever taken, and a session never gets two.
   */
  takeSeat(workshopId: string, sessionId: string, name: string, seatId: string, at?: Date | number): Promise<TakeSeatResult>;
  /** A workshop's seats, in the order they were taken. */
  seats(workshopId: string): Promise<SeatRow[]>;
  /** The seats a session has, in every workshop, the newest first. */
  seatsOfSession(sessionId: string): Promise<SeatRow[]>;
  /** Several agents: a session's newest lab is this one (replacing the row it had). */
  setSessionLab(row: SessionLab): Promise<void>;
  /** The lab closed: its row goes. */
  clearSessionLab(labId: string): Promise<void>;
  /** An agent's rows of labs other than these go (they closed, or an earlier run left them). */
  keepAgentLabs(agentId: string, labIds: string[]): Promise<void>;
  /** The newest lab of each of these sessions, written again since `since` (epoch ms). */
  sessionLabs(sessions: string[], since: number): Promise<SessionLab[]>;
  /** Every agent's labs written again since `since` (epoch ms), at most `limit`. */
  clusterLabs(since: number, limit?: number): Promise<SessionLab[]>;
  /** Record a help request (the text may be empty). An id already used fails with 'conflict'. */
  askHelp(h: HelpInput): Promise<HelpRow>;
  /** Mark a help request answered. False when the workshop has no such request, or it was answered already. */
  answerHelp(workshopId: string, id: string, at?: Date | number): Promise<boolean>;
  /** A workshop's unanswered help requests, the oldest first. */
  openHelp(workshopId: string): Promise<HelpRow[]>;
  /**
   * The tasks any of `sessions` did in any of `lessons`, oldest first (at most 1000 sessions
   * and 1000 lessons a call; either list empty: none).
   */
  progressOf(sessions: string[], lessons: string[]): Promise<SessionTaskDone[]>;

  /** Training portals: API keys, their learners, launch links, webhook endpoints (portal.ts). */
  readonly portal: PortalQueries;
  /** Messages owed to other servers: webhook deliveries, LTI scores (outbox.ts). */
  readonly outbox: OutboxQueries;
  /** The LTI 1.3 tool's logins and grade targets (lti.ts). */
  readonly lti: LtiQueries;

  /** Resolves when the database answers (for a health check). */
  ping(): Promise<void>;
  /** Wait for running operations, then close. Later calls fail with code 'closed'. */
  close(): Promise<void>;
}

const target = z.union([z.strictObject({ dir: z.string().min(1) }), z.strictObject({ url: z.string().min(1) })]);

/** Open (creating and migrating as needed) the store. Fails with StoreError. */
export function openStore(where: StoreTarget, options: StoreOptions = {}): Promise<Store> {
  return openStoreWith(where, options, MIGRATIONS);
}

/** openStore with another migration list (tests). */
export async function openStoreWith(where: StoreTarget, options: StoreOptions, migrations: readonly Migration[]): Promise<Store> {
  const t = target.safeParse(where);
  if (!t.success) throw new StoreError('invalid', 'openStore: expected { dir: "/absolute/path" } or { url: "postgres://..." }', '');
  const onBackgroundError = options.onBackgroundError ?? (() => {});

  if ('dir' in t.data) {
    const h = openEmbedded(t.data.dir);
    const db = new Kysely<Database>({ dialect: h.dialect });
    try {
      const version = await migrate(db, 'sqlite', h.where, migrations);
      h.tighten();
      return new KyselyStore(db, 'sqlite', h.where, [], version, async () => {
        await db.destroy();
        h.close();
      });
    } catch (err) {
      await db.destroy().catch(() => {});
      h.close();
      throw err;
    }
  }

  // Loaded only for PostgreSQL: an embedded store never runs node-postgres.
  const { openPostgres } = await import('./postgres.js');
  const h = openPostgres(t.data.url, options.pool ?? {}, onBackgroundError);
  const db = new Kysely<Database>({ dialect: h.dialect });
  try {
    try {
      await sql`SELECT 1`.execute(db);
    } catch (err) {
      throw new StoreError('open', `store at ${h.where}: cannot connect: ${reasonOf(err, h.secrets)}`, h.where, { cause: err });
    }
    const version = await migrate(db, 'postgres', h.where, migrations);
    return new KyselyStore(db, 'postgres', h.where, h.secrets, version, () => db.destroy());
  } catch (err) {
    await db.destroy().catch(() => {});
    throw err;
  }
}

class KyselyStore implements Store {
  private closing: Promise<void> | undefined;
  readonly portal: PortalQueries;
  readonly outbox: OutboxQueries;
  readonly lti: LtiQueries;

  constructor(
    private readonly db: Kysely<Database>,
    readonly engine: Engine,
    readonly where: string,
    private readonly secrets: readonly string[],
    readonly schemaVersion: number,
    private readonly shutdown: () => Promise<void>,
  ) {
    const runner = { db, engine, where, run: <T>(op: string, fn: () => Promise<T>) => this.run(op, fn) };
    this.portal = new PortalQueries(runner);
    this.outbox = new OutboxQueries(runner);
    this.lti = new LtiQueries(runner);
  }

  async recordTaskDone(session: string, lesson: string, task: string, at: Date | number = Date.now()) {
    const op = 'recordTaskDone';
    const row = {
      session_id: check(op, 'session', sessionId, session),
      lesson_id: check(op, 'lesson', lessonId, lesson),
      task_id: check(op, 'task', taskId, task),
      done_at: check(op, 'at', instant, at),
    };
    return this.run(op, async () => {
      const inserted = await this.db
        .insertInto('task_progress')
        .values(row)
        .onConflict((oc) => oc.columns(['session_id', 'lesson_id', 'task_id']).doNothing())
        .returning('done_at')
        .executeTakeFirst();
      if (inserted) return { doneAt: new Date(Number(inserted.done_at)), first: true };
      const kept = await this.db
        .selectFrom('task_progress')
        .select('done_at')
        .where('session_id', '=', row.session_id)
        .where('lesson_id', '=', row.lesson_id)
        .where('task_id', '=', row.task_id)
        .executeTakeFirstOrThrow();
      return { doneAt: new Date(Number(kept.done_at)), first: false };
    });
  }

  async progress(session: string): Promise<TaskDone[]> {
    const sid = check('progress', 'session', sessionId, session);
    return this.run('progress', async () => {
      const rows = await this.db
        .selectFrom('task_progress')
        .select(['lesson_id', 'task_id', 'done_at'])
        .where('session_id', '=', sid)
        .orderBy('done_at')
        .orderBy('lesson_id')
        .orderBy('task_id')
        .execute();
      return rows.map((r) => ({ lesson: r.lesson_id, task: r.task_id, doneAt: new Date(Number(r.done_at)) }));
    });
  }

  async getSecret(name: string): Promise<string | undefined> {
    const n = check('getSecret', 'name', secretName, name);
    return this.run('getSecret', async () => {
      const r = await this.db.selectFrom('agent_secret').select('value').where('name', '=', n).executeTakeFirst();
      return r?.value;
    });
  }

  async setSecret(name: string, value: string): Promise<void> {
    const n = check('setSecret', 'name', secretName, name);
    const v = check('setSecret', 'value', secretValue, value);
    await this.run('setSecret', async () => {
      const now = Date.now();
      await this.db
        .insertInto('agent_secret')
        .values({ name: n, value: v, updated_at: now })
        .onConflict((oc) => oc.column('name').doUpdateSet({ value: v, updated_at: now }))
        .execute();
    });
  }

  async ensureSecret(name: string, make: () => string): Promise<string> {
    const n = check('ensureSecret', 'name', secretName, name);
    const existing = await this.getSecret(n);
    if (existing !== undefined) return existing;
    const v = check('ensureSecret', 'value', secretValue, make());
    return this.run('ensureSecret', async () => {
      await this.db
        .insertInto('agent_secret')
        .values({ name: n, value: v, updated_at: Date.now() })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      const r = await this.db.selectFrom('agent_secret').select('value').where('name', '=', n).executeTakeFirstOrThrow();
      return r.value;
    });
  }

  // --- workshops -------------------------------------------------------------------------

  async createWorkshop(w: WorkshopInput): Promise<WorkshopRow> {
    const op = 'createWorkshop';
    const o = check(op, 'workshop', anObject, w) as Record<string, unknown>;
    const lessons = check(op, 'lessons', lessonList, o.lessons);
    const row: WorkshopTable = {
      id: check(op, 'id', entityId, o.id),
      title: check(op, 'title', workshopTitle, o.title),
      lessons: JSON.stringify(lessons),
      seats: check(op, 'seats', seatCount, o.seats),
      code: check(op, 'code', joinCode, o.code),
      instructor_key_hash: check(op, 'instructorKeyHash', keyHash, o.instructorKeyHash),
      opens_at: check(op, 'opensAt', maybeInstant, o.opensAt),
      closes_at: check(op, 'closesAt', maybeInstant, o.closesAt),
      created_at: check(op, 'createdAt', instant, o.createdAt ?? Date.now()),
      closed_at: null,
      broadcast_text: null,
      broadcast_at: null,
    };
    return this.run(op, async () => {
      // DO NOTHING on any key (id or code): no error, so no aborted transaction on PostgreSQL.
      const inserted = await this.db
        .insertInto('workshop')
        .values(row)
        .onConflict((oc) => oc.doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!inserted) {
        const sameId = await this.db.selectFrom('workshop').select('id').where('id', '=', row.id).executeTakeFirst();
        throw new StoreError(
          'conflict',
          sameId ? `${op}: a workshop with id ${row.id} already exists` : `${op}: another workshop has this join code`,
          this.where,
        );
      }
      return toWorkshop(row);
    });
  }

  async getWorkshop(id: string): Promise<WorkshopRow | undefined> {
    const wid = check('getWorkshop', 'id', entityId, id);
    return this.run('getWorkshop', async () => {
      const r = await this.db.selectFrom('workshop').selectAll().where('id', '=', wid).executeTakeFirst();
      return r && toWorkshop(r);
    });
  }

  async workshopByCode(code: string): Promise<WorkshopRow | undefined> {
    const c = check('workshopByCode', 'code', joinCode, code);
    return this.run('workshopByCode', async () => {
      const r = await this.db.selectFrom('workshop').selectAll().where('code', '=', c).executeTakeFirst();
      return r && toWorkshop(r);
    });
  }

  async listWorkshops(): Promise<WorkshopRow[]> {
    return this.run('listWorkshops', async () => {
      const rows = await this.db.selectFrom('workshop').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').execute();
      return rows.map(toWorkshop);
    });
  }

  async closeWorkshop(id: string, at: Date | number = Date.now()): Promise<boolean> {
    const op = 'closeWorkshop';
    const wid = check(op, 'id', entityId, id);
    const t = check(op, 'at', instant, at);
    return this.run(op, async () => {
      const r = await this.db.updateTable('workshop').set({ closed_at: t }).where('id', '=', wid).where('closed_at', 'is', null).executeTakeFirst();
      return r.numUpdatedRows > 0n;
    });
  }

  async setInstructorKeyHash(id: string, hash: string): Promise<boolean> {
    const op = 'setInstructorKeyHash';
    const wid = check(op, 'id', entityId, id);
    const h = check(op, 'hash', keyHash, hash);
    return this.run(op, async () => {
      const r = await this.db.updateTable('workshop').set({ instructor_key_hash: h }).where('id', '=', wid).executeTakeFirst();
      return r.numUpdatedRows > 0n;
    });
  }

  async setBroadcast(id: string, text: string | null, at: Date | number = Date.now()): Promise<boolean> {
    const op = 'setBroadcast';
    const wid = check(op, 'id', entityId, id);
    const body = text === null ? null : check(op, 'text', broadcastText, text);
    const t = check(op, 'at', instant, at);
    const set = body ? { broadcast_text: body, broadcast_at: t } : { broadcast_text: null, broadcast_at: null };
    return this.run(op, async () => {
      const r = await this.db.updateTable('workshop').set(set).where('id', '=', wid).executeTakeFirst();
      return r.numUpdatedRows > 0n;
    });
  }

  async takeSeat(workshopId: string, session: string, name: string, seatId: string, at: Date | number = Date.now()): Promise<TakeSeatResult> {
    const op = 'takeSeat';
    const wid = check(op, 'workshopId', entityId, workshopId);
    const sid = check(op, 'sessionId', sessionId, session);
    const n = check(op, 'name', seatName, name);
    const seat = check(op, 'seatId', entityId, seatId);
    const t = check(op, 'at', instant, at);
    return this.run(op, () =>
      // One transaction holding the workshop's row: on PostgreSQL, FOR UPDATE makes concurrent
      // joins (from this agent's pool or another agent's) wait for each other; the embedded
      // engine has one connection, which a transaction holds to its end.
      this.db.transaction().execute(async (trx): Promise<TakeSeatResult> => {
        const w = await trx
          .selectFrom('workshop')
          .select(['id', 'seats'])
          .where('id', '=', wid)
          .$if(this.engine === 'postgres', (q) => q.forUpdate())
          .executeTakeFirst();
        if (!w) return 'unknown';
        const mine = await trx.selectFrom('workshop_seat').selectAll().where('workshop_id', '=', wid).where('session_id', '=', sid).executeTakeFirst();
        if (mine) {
          if (mine.name !== n) {
            await trx.updateTable('workshop_seat').set({ name: n }).where('workshop_id', '=', wid).where('seat_id', '=', mine.seat_id).execute();
          }
          return { seat: toSeat({ ...mine, name: n }), fresh: false };
        }
        const taken = await trx
          .selectFrom('workshop_seat')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('workshop_id', '=', wid)
          .executeTakeFirstOrThrow();
        if (Number(taken.n) >= Number(w.seats)) return 'full';
        const row: WorkshopSeatTable = { workshop_id: wid, seat_id: seat, session_id: sid, name: n, joined_at: t };
        const inserted = await trx
          .insertInto('workshop_seat')
          .values(row)
          .onConflict((oc) => oc.doNothing())
          .returning('seat_id')
          .executeTakeFirst();
        // The session's own seat was looked for under the lock: only the seat id can clash.
        if (!inserted) throw new StoreError('conflict', `${op}: workshop ${wid} has a seat with id ${seat} already`, this.where);
        return { seat: toSeat(row), fresh: true };
      }),
    );
  }

  async seats(workshopId: string): Promise<SeatRow[]> {
    const wid = check('seats', 'workshopId', entityId, workshopId);
    return this.run('seats', async () => {
      const rows = await this.db.selectFrom('workshop_seat').selectAll().where('workshop_id', '=', wid).orderBy('joined_at').orderBy('seat_id').execute();
      return rows.map(toSeat);
    });
  }

  async seatsOfSession(session: string): Promise<SeatRow[]> {
    const sid = check('seatsOfSession', 'sessionId', sessionId, session);
    return this.run('seatsOfSession', async () => {
      const rows = await this.db
        .selectFrom('workshop_seat')
        .selectAll()
        .where('session_id', '=', sid)
        .orderBy('joined_at', 'desc')
        .orderBy('workshop_id', 'desc')
        .execute();
      return rows.map(toSeat);
    });
  }

  async askHelp(h: HelpInput): Promise<HelpRow> {
    const op = 'askHelp';
    const o = check(op, 'help', anObject, h) as Record<string, unknown>;
    const row: HelpRequestTable = {
      id: check(op, 'id', entityId, o.id),
      workshop_id: check(op, 'workshopId', entityId, o.workshopId),
      seat_id: check(op, 'seatId', entityId, o.seatId),
      text: check(op, 'text', helpText, o.text),
      asked_at: check(op, 'at', instant, o.at ?? Date.now()),
      answered_at: null,
    };
    return this.run(op, async () => {
      const inserted = await this.db
        .insertInto('help_request')
        .values(row)
        .onConflict((oc) => oc.doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!inserted) throw new StoreError('conflict', `${op}: a help request with id ${row.id} already exists`, this.where);
      return toHelp(row);
    });
  }

  async answerHelp(workshopId: string, id: string, at: Date | number = Date.now()): Promise<boolean> {
    const op = 'answerHelp';
    const wid = check(op, 'workshopId', entityId, workshopId);
    const hid = check(op, 'id', entityId, id);
    const t = check(op, 'at', instant, at);
    return this.run(op, async () => {
      const r = await this.db
        .updateTable('help_request')
        .set({ answered_at: t })
        .where('id', '=', hid)
        .where('workshop_id', '=', wid)
        .where('answered_at', 'is', null)
        .executeTakeFirst();
      return r.numUpdatedRows > 0n;
    });
  }

  async openHelp(workshopId: string): Promise<HelpRow[]> {
    const wid = check('openHelp', 'workshopId', entityId, workshopId);
    return this.run('openHelp', async () => {
      const rows = await this.db
        .selectFrom('help_request')
        .selectAll()
        .where('workshop_id', '=', wid)
        .where('answered_at', 'is', null)
        .orderBy('asked_at')
        .orderBy('id')
        .execute();
      return rows.map(toHelp);
    });
  }

  async progressOf(sessions: string[], lessons: string[]): Promise<SessionTaskDone[]> {
    const op = 'progressOf';
    const sids = [...new Set(check(op, 'sessions', sessionList, sessions))];
    const lids = [...new Set(check(op, 'lessons', lessonIdList, lessons))];
    if (!sids.length || !lids.length) return [];
    return this.run(op, async () => {
      const rows = await this.db
        .selectFrom('task_progress')
        .select(['session_id', 'lesson_id', 'task_id', 'done_at'])
        .where('session_id', 'in', sids)
        .where('lesson_id', 'in', lids)
        .orderBy('done_at')
        .orderBy('session_id')
        .orderBy('lesson_id')
        .orderBy('task_id')
        .execute();
      return rows.map((r) => ({ session: r.session_id, lesson: r.lesson_id, task: r.task_id, doneAt: new Date(Number(r.done_at)) }));
    });
  }

  async setSessionLab(r: SessionLab): Promise<void> {
    const op = 'setSessionLab';
    const o = check(op, 'row', anObject, r) as Record<string, unknown>;
    const row = {
      lab_id: check(op, 'lab', entityId, o.lab),
      session_id: check(op, 'session', sessionId, o.session),
      lesson_id: check(op, 'lesson', lessonId, o.lesson),
      agent_id: check(op, 'agent', agentIdText, o.agent),
      connected: check(op, 'connected', z.boolean(), o.connected) ? 1 : 0,
      active_at: check(op, 'activeAt', instant, o.activeAt),
      created_at: check(op, 'createdAt', instant, o.createdAt),
      closes_at: check(op, 'closesAt', instant.nullable(), o.closesAt),
      panes: JSON.stringify(check(op, 'panes', labPanes, o.panes)),
      updated_at: Date.now(),
    };
    await this.run(op, async () => {
      const { lab_id: _, ...rest } = row;
      await this.db
        .insertInto('cluster_lab')
        .values(row)
        .onConflict((oc) => oc.column('lab_id').doUpdateSet(rest))
        .execute();
    });
  }

  async clearSessionLab(labId: string): Promise<void> {
    const id = check('clearSessionLab', 'lab', entityId, labId);
    await this.run('clearSessionLab', async () => void (await this.db.deleteFrom('cluster_lab').where('lab_id', '=', id).execute()));
  }

  async keepAgentLabs(agentId: string, labIds: string[]): Promise<void> {
    const op = 'keepAgentLabs';
    const agent = check(op, 'agent', agentIdText, agentId);
    const ids = [...new Set(check(op, 'labs', z.array(entityId).max(10_000), labIds))];
    await this.run(op, async () => {
      let gone = this.db.deleteFrom('cluster_lab').where('agent_id', '=', agent);
      if (ids.length) gone = gone.where('lab_id', 'not in', ids);
      await gone.execute();
    });
  }

  async sessionLabs(sessions: string[], since: number): Promise<SessionLab[]> {
    const op = 'sessionLabs';
    const sids = [...new Set(check(op, 'sessions', sessionList, sessions))];
    const after = check(op, 'since', instant, since);
    if (!sids.length) return [];
    return this.run(op, async () => {
      const rows = await this.db.selectFrom('cluster_lab').selectAll().where('session_id', 'in', sids).where('updated_at', '>=', after).execute();
      // The newest lab of each session.
      const newest = new Map<string, ClusterLabTable>();
      for (const r of rows) {
        const had = newest.get(r.session_id);
        if (!had || Number(r.created_at) > Number(had.created_at)) newest.set(r.session_id, r);
      }
      return [...newest.values()].map(clusterLabOf);
    });
  }

  async clusterLabs(since: number, limit = 10_000): Promise<SessionLab[]> {
    const op = 'clusterLabs';
    const after = check(op, 'since', instant, since);
    const n = check(op, 'limit', z.number().int().min(1).max(100_000), limit);
    return this.run(op, async () => {
      const rows = await this.db.selectFrom('cluster_lab').selectAll().where('updated_at', '>=', after).orderBy('created_at').limit(n).execute();
      return rows.map(clusterLabOf);
    });
  }

  async ping(): Promise<void> {
    await this.run('ping', async () => void (await sql`SELECT 1`.execute(this.db)));
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown().catch(() => {});
    return this.closing;
  }

  private async run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.closing) throw new StoreError('closed', `${op}: the store at ${this.where} is closed`, this.where);
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StoreError) throw err;
      const reason = reasonOf(err, this.secrets);
      if (this.closing) throw new StoreError('closed', `${op}: the store at ${this.where} was closed: ${reason}`, this.where, { cause: err });
      if (isConnectionError(err) || /disk I\/O error|database or disk is full|unable to open|readonly database|database is closed/i.test(reason)) {
        throw new StoreError('unavailable', `${op}: the store at ${this.where} is unavailable: ${reason}`, this.where, { cause: err });
      }
      throw new StoreError('failed', `${op}: the store at ${this.where} failed: ${reason}`, this.where, { cause: err });
    }
  }
}

// --- rows to values --------------------------------------------------------------------------

function toWorkshop(r: WorkshopTable): WorkshopRow {
  const lessons: unknown = JSON.parse(r.lessons);
  if (!Array.isArray(lessons) || !lessons.every((l) => typeof l === 'string')) throw new Error(`workshop ${r.id}: its lessons are not a list of ids`);
  return {
    id: r.id,
    title: r.title,
    lessons,
    seats: Number(r.seats),
    code: r.code,
    instructorKeyHash: r.instructor_key_hash,
    opensAt: msOrNull(r.opens_at),
    closesAt: msOrNull(r.closes_at),
    createdAt: ms(r.created_at),
    closedAt: msOrNull(r.closed_at),
    broadcast: r.broadcast_text && r.broadcast_at !== null ? { text: r.broadcast_text, at: ms(r.broadcast_at) } : null,
  };
}

function clusterLabOf(r: ClusterLabTable): SessionLab {
  let panes: SessionLab['panes'] = [];
  try {
    panes = labPanes.parse(JSON.parse(r.panes));
  } catch {
    /* a row another release wrote in another shape: its panes are not listed */
  }
  return {
    session: r.session_id,
    lab: r.lab_id,
    lesson: r.lesson_id,
    agent: r.agent_id,
    connected: Number(r.connected) === 1,
    activeAt: Number(r.active_at),
    createdAt: Number(r.created_at),
    closesAt: r.closes_at === null ? null : Number(r.closes_at),
    panes,
  };
}

function toSeat(r: WorkshopSeatTable): SeatRow {
  return { workshopId: r.workshop_id, seatId: r.seat_id, sessionId: r.session_id, name: r.name, joinedAt: ms(r.joined_at) };
}

function toHelp(r: HelpRequestTable): HelpRow {
  return { id: r.id, workshopId: r.workshop_id, seatId: r.seat_id, text: r.text, askedAt: ms(r.asked_at), answeredAt: msOrNull(r.answered_at) };
}

/** The target the agent's settings name: the database URL when there is one, else the directory. */
export function storeTarget(databaseUrl: string | undefined | null, stateDir: string): StoreTarget {
  return databaseUrl ? { url: databaseUrl } : { dir: stateDir };
}

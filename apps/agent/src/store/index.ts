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
import { check, instant, lessonId, secretName, secretValue, sessionId, taskId, type Database } from './schema.js';

export { StoreError, redactUrl, type StoreErrorCode } from './errors.js';
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

  constructor(
    private readonly db: Kysely<Database>,
    readonly engine: Engine,
    readonly where: string,
    private readonly secrets: readonly string[],
    readonly schemaVersion: number,
    private readonly shutdown: () => Promise<void>,
  ) {}

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

/** The target the agent's settings name: the database URL when there is one, else the directory. */
export function storeTarget(databaseUrl: string | undefined | null, stateDir: string): StoreTarget {
  return databaseUrl ? { url: databaseUrl } : { dir: stateDir };
}

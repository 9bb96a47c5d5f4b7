// Versioned migrations, the same list for both engines. A migration is a list of SQL
// statements, one statement per entry; where the two dialects differ, an entry gives one text
// per engine. Each migration runs once, in its own transaction, together with the row that
// records it in schema_migrations, so a crash leaves either all of it or none. On PostgreSQL,
// agents that share one database take a transaction-level advisory lock first, so two agents
// starting at once do not both migrate.
//
// Rules for whoever adds one: never edit a migration that has shipped (its checksum is
// recorded, and an agent refuses a database whose recorded checksum differs); add the next
// version instead. Keep migrations additive where possible, so that agents of the previous
// version keep working against a database already migrated by a newer one, until they are
// replaced (an agent refuses a database that has versions it does not know).
import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { StoreError, reasonOf } from './errors.js';
import type { Database } from './schema.js';

export type Engine = 'sqlite' | 'postgres';
export type Statement = string | { readonly sqlite: string; readonly postgres: string };

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly Statement[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'task progress and agent secrets',
    statements: [
      // The first time a browser session had a lesson's task done. Later issues key progress
      // by other learners too (a workshop seat, a portal's user): they add their own tables
      // and point here through the session id, which stays opaque to the store.
      `CREATE TABLE task_progress (
        session_id TEXT NOT NULL,
        lesson_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        done_at BIGINT NOT NULL,
        PRIMARY KEY (session_id, lesson_id, task_id)
      )`,
      // Values the agent keeps between restarts and never sends to a page: the session
      // cookie signing key, later the keys that sign launch links and seats.
      `CREATE TABLE agent_secret (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
    ],
  },
  {
    version: 2,
    name: 'workshops, seats and help requests',
    statements: [
      // A workshop: an instructor and a room of learners (docs/workshops.md). The instructor
      // key is kept only as its hash; lessons is a JSON array of lesson ids, in the order the
      // workshop takes them. A broadcast is the one message currently shown to every learner.
      `CREATE TABLE workshop (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        lessons TEXT NOT NULL,
        seats INTEGER NOT NULL,
        code TEXT NOT NULL UNIQUE,
        instructor_key_hash TEXT NOT NULL,
        opens_at BIGINT,
        closes_at BIGINT,
        created_at BIGINT NOT NULL,
        closed_at BIGINT,
        broadcast_text TEXT,
        broadcast_at BIGINT
      )`,
      'CREATE INDEX workshop_created ON workshop (created_at)',
      // A learner's seat: one per browser session and workshop. Progress stays keyed by the
      // session (task_progress), so a seat points there through session_id.
      `CREATE TABLE workshop_seat (
        workshop_id TEXT NOT NULL,
        seat_id TEXT NOT NULL,
        session_id TEXT NOT NULL,
        name TEXT NOT NULL,
        joined_at BIGINT NOT NULL,
        PRIMARY KEY (workshop_id, seat_id),
        UNIQUE (workshop_id, session_id)
      )`,
      'CREATE INDEX workshop_seat_session ON workshop_seat (session_id)',
      `CREATE TABLE help_request (
        id TEXT PRIMARY KEY,
        workshop_id TEXT NOT NULL,
        seat_id TEXT NOT NULL,
        text TEXT NOT NULL,
        asked_at BIGINT NOT NULL,
        answered_at BIGINT
      )`,
      'CREATE INDEX help_request_open ON help_request (workshop_id, answered_at)',
    ],
  },
  {
    version: 3,
    name: 'portals: api keys, portal users, launches, webhooks, the outbox, lti',
    statements: [
      // A portal's API key, kept only as its hash. A name is unique among keys not revoked, so a
      // revoked key's name can be given again; origins is a JSON array of scheme://host[:port].
      `CREATE TABLE api_key (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        origins TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        revoked_at BIGINT
      )`,
      'CREATE UNIQUE INDEX api_key_live_name ON api_key (name) WHERE revoked_at IS NULL',
      // A learner of a portal or an LMS: their session (and so their progress) is the same at
      // every launch. source is 'key:<key id>' or 'lti:<platform id>'; user_id is the portal's
      // opaque id. lesson, lang and return_url are those of the latest launch.
      `CREATE TABLE portal_user (
        session_id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        user_id TEXT NOT NULL,
        name TEXT,
        lesson TEXT NOT NULL,
        lang TEXT NOT NULL,
        return_url TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        UNIQUE (source, user_id)
      )`,
      // A one-time launch link, kept as the hash of its token.
      `CREATE TABLE launch (
        token_hash TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        lesson TEXT NOT NULL,
        lang TEXT NOT NULL,
        name TEXT,
        return_url TEXT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT
      )`,
      'CREATE INDEX launch_expires ON launch (expires_at)',
      `CREATE TABLE webhook_endpoint (
        id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        removed_at BIGINT
      )`,
      'CREATE INDEX webhook_endpoint_key ON webhook_endpoint (key_id)',
      // The durable outbox: webhook deliveries and LTI scores, at least once, in order per
      // (kind, target, ordering_key); seq orders them.
      {
        sqlite: `CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        ordering_key TEXT NOT NULL,
        event TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        next_at BIGINT NOT NULL,
        attempts INTEGER NOT NULL,
        done_at BIGINT,
        failed_at BIGINT,
        last_error TEXT
      )`,
        postgres: `CREATE TABLE outbox (
        seq BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        ordering_key TEXT NOT NULL,
        event TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        next_at BIGINT NOT NULL,
        attempts INTEGER NOT NULL,
        done_at BIGINT,
        failed_at BIGINT,
        last_error TEXT
      )`,
      },
      'CREATE INDEX outbox_pending ON outbox (done_at, failed_at, next_at)',
      'CREATE INDEX outbox_target ON outbox (kind, target, seq)',
      `CREATE TABLE outbox_attempt (
        seq BIGINT NOT NULL,
        n INTEGER NOT NULL,
        at BIGINT NOT NULL,
        status INTEGER,
        error TEXT,
        ms INTEGER NOT NULL,
        PRIMARY KEY (seq, n)
      )`,
      // LTI 1.3: a login's state and nonce (used once, before it expires), and where a launch's
      // grades go.
      `CREATE TABLE lti_login (
        state TEXT PRIMARY KEY,
        nonce TEXT NOT NULL,
        platform TEXT NOT NULL,
        target_link_uri TEXT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT
      )`,
      'CREATE INDEX lti_login_expires ON lti_login (expires_at)',
      `CREATE TABLE lti_grade_target (
        session_id TEXT NOT NULL,
        lesson_id TEXT NOT NULL,
        platform TEXT NOT NULL,
        lineitem TEXT NOT NULL,
        user_sub TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (session_id, lesson_id)
      )`,
    ],
  },
  {
    version: 4,
    name: "several agents: each browser session's newest lab, on whichever agent holds it",
    statements: [
      // Written by the agent that holds the lab (on open, on a change of presence, and again
      // every minute while it is open), read by any agent's workshop dashboard. A row that has
      // not been written again for a few minutes belongs to an agent that is gone.
      `CREATE TABLE session_lab (
        session_id TEXT PRIMARY KEY,
        lab_id TEXT NOT NULL,
        lesson_id TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        connected INTEGER NOT NULL,
        active_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      'CREATE INDEX session_lab_agent ON session_lab (agent_id)',
      'CREATE INDEX session_lab_lab ON session_lab (lab_id)',
    ],
  },
  {
    version: 5,
    name: 'several agents: every learner lab, on whichever agent holds it',
    statements: [
      // One row per lab rather than per session: a portal's user may hold several labs, on
      // several agents, and the portal API lists them all (GET /api/v1/labs). The rows of
      // session_lab are rewritten within a minute by their agents, so nothing is lost by
      // dropping it.
      'DROP TABLE session_lab',
      `CREATE TABLE cluster_lab (
        lab_id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        lesson_id TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        connected INTEGER NOT NULL,
        active_at BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        closes_at BIGINT,
        panes TEXT NOT NULL,
        updated_at BIGINT NOT NULL
      )`,
      'CREATE INDEX cluster_lab_agent ON cluster_lab (agent_id)',
      'CREATE INDEX cluster_lab_session ON cluster_lab (session_id)',
    ],
  },
];

// Both dialects accept this text as it is.
const CREATE_SCHEMA_MIGRATIONS = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

// pg_advisory_xact_lock key: "nslab" in ASCII.
const LOCK_KEY = 0x6e736c6162;

export function checksum(m: Migration): string {
  return createHash('sha256')
    .update(JSON.stringify([m.version, m.name, m.statements]))
    .digest('hex')
    .slice(0, 32);
}

function text(st: Statement, engine: Engine): string {
  return typeof st === 'string' ? st : st[engine];
}

export function validateMigrations(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration ${m.name}: version ${m.version} where ${i + 1} was expected`);
  });
}

/** Bring the schema to the last migration of the list; returns the version it is at. */
export async function migrate(db: Kysely<Database>, engine: Engine, where: string, list: readonly Migration[] = MIGRATIONS): Promise<number> {
  validateMigrations(list);
  const fail = (message: string, cause?: unknown): never => {
    throw new StoreError('migrate', `store at ${where}: ${message}`, where, { cause });
  };
  const lock = async (trx: Kysely<Database>) => {
    if (engine === 'postgres') await sql`SELECT pg_advisory_xact_lock(${LOCK_KEY})`.execute(trx);
  };
  const applied = async (trx: Kysely<Database>) => {
    const rows = await trx.selectFrom('schema_migrations').select(['version', 'name', 'checksum']).orderBy('version').execute();
    const known = new Map(list.map((m) => [m.version, m]));
    for (const r of rows) {
      const m = known.get(r.version);
      if (!m) fail(`the database has schema version ${r.version} (${r.name}), newer than this agent knows (${list.length}): run a newer agent`);
      else if (r.checksum !== checksum(m))
        fail(
          `migration ${r.version} (${r.name}) was recorded with checksum ${r.checksum}, this agent's differs (${checksum(m)}): a shipped migration was edited`,
        );
    }
    return new Set(rows.map((r) => r.version));
  };

  try {
    await db.transaction().execute(async (trx) => {
      await lock(trx);
      await sql.raw(CREATE_SCHEMA_MIGRATIONS).execute(trx);
    });
    for (const m of list) {
      await db.transaction().execute(async (trx) => {
        await lock(trx);
        if ((await applied(trx)).has(m.version)) return;
        for (const [i, st] of m.statements.entries()) {
          try {
            await sql.raw(text(st, engine)).execute(trx);
          } catch (err) {
            fail(`migration ${m.version} (${m.name}), statement ${i + 1}: ${reasonOf(err)}`, err);
          }
        }
        await trx
          .insertInto('schema_migrations')
          .values({ version: m.version, name: m.name, checksum: checksum(m), applied_at: Date.now() })
          .execute();
      });
    }
    // Also catches a database that is newer than the list when nothing was left to apply.
    await db.transaction().execute(async (trx) => void (await applied(trx)));
  } catch (err) {
    if (err instanceof StoreError) throw err;
    fail(`cannot migrate: ${reasonOf(err)}`, err);
  }
  return list.length;
}

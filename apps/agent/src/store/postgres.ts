// PostgreSQL through node-postgres: one pool per agent, the query builder's own dialect.
// A connection that breaks (the server stopped, restarted, a network cut) is dropped from the
// pool and the operation fails with StoreError('unavailable'); the next operation opens a new
// connection, so the store recovers by itself when the server is back.
import pg from 'pg';
import { PostgresDialect, type Dialect } from 'kysely';
import { StoreError, reasonOf, redactUrl } from './errors.js';

export interface PoolOptions {
  /** Connections at most (default 10). */
  max?: number;
  /** Give up connecting after this long (default 5000 ms). */
  connectTimeoutMs?: number;
  /** The server cancels a statement after this long (default 10000 ms). */
  statementTimeoutMs?: number;
}

export interface PostgresHandle {
  dialect: Dialect;
  where: string;
  secrets: string[];
}

const INT8 = 20;

/** Never throws for a server that is down: the first query does. Throws for a bad URL. */
export function openPostgres(url: string, opts: PoolOptions, onBackgroundError: (err: StoreError) => void): PostgresHandle {
  const where = redactUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new StoreError('open', `store at ${where}: not a URL (postgres://user:password@host:port/database)`, where);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new StoreError('open', `store at ${where}: not a PostgreSQL URL (postgres://user:password@host:port/database)`, where);
  }
  const secrets = [decodeURIComponent(parsed.password), ...[...parsed.searchParams].filter(([k]) => /pass|secret|key/i.test(k)).map(([, v]) => v)].filter(
    (s) => s.length >= 3,
  );

  const statementTimeout = opts.statementTimeoutMs ?? 10_000;
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: statementTimeout,
    // The client gives up too, should the server never answer (a dead peer behind a proxy).
    query_timeout: statementTimeout + 5_000,
    keepAlive: true,
    application_name: 'nslab-agent',
    // BIGINT columns hold milliseconds, well within a double: read them as numbers, for this
    // pool only (pg's global type table stays as it is).
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8 && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  const report = (err: unknown) => {
    onBackgroundError(new StoreError('unavailable', `store at ${where}: ${reasonOf(err, secrets)}`, where, { cause: err }));
  };
  // A connection that breaks emits 'error' on its client, whether a query holds it or it is
  // idle; the pool repeats an idle one's on itself. Either, unheard, would crash the process:
  // every client gets a listener as it connects, and the pool's repetition is dropped.
  pool.on('connect', (client) => {
    client.on('error', report);
  });
  pool.on('error', () => {});

  // The query builder's destroy() ends the pool.
  return { dialect: new PostgresDialect({ pool }), where, secrets };
}

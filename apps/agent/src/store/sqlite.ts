// The embedded engine: SQLite compiled to WebAssembly (node-sqlite3-wasm, no native addon),
// behind the query builder through a small dialect of our own. The database lives in
// <dir>/store/, a directory only root (the agent's user) can enter.
//
// Durability: write-ahead log, synchronous=NORMAL. A transaction that returned is in the
// kernel's page cache (SQLite wrote it to the log with a plain write), so it survives the
// agent being killed, SIGKILL included; a power cut can lose the last transactions before
// the next checkpoint but never corrupts the file. The WebAssembly build has no shared
// memory for the log's index, so the database is opened in exclusive locking mode: one
// process at a time, which is what an embedded store is.
//
// Ownership: the build's file lock is a directory next to the database (<db>.lock) that a
// killed process leaves behind. So the store keeps an owner file (pid and start time) of its
// own: a live owner refuses a second opener; a dead one's owner file and lock are taken over.
import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, resolve } from 'node:path';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';
import type { Database as WasmDatabase } from 'node-sqlite3-wasm';
import { StoreError, reasonOf } from './errors.js';

export const STORE_SUBDIR = 'store';
export const DB_FILE = 'nslab.sqlite';
const OWNER_FILE = 'owner';

type WasmModule = { Database: typeof WasmDatabase };
let wasm: WasmModule | undefined;
function loadWasm(): WasmModule {
  // Loaded on first use only: an agent on PostgreSQL never compiles the WebAssembly module.
  // Required at run time, never bundled: the package finds its .wasm file beside its own
  // script. (__filename exists in the CommonJS bundle, import.meta.url under ESM.)
  const req = createRequire(typeof __filename !== 'undefined' ? __filename : import.meta.url);
  wasm ??= req('node-sqlite3-wasm') as WasmModule;
  return wasm;
}

export interface EmbeddedHandle {
  dialect: Dialect;
  where: string;
  /** After the builder's destroy(): close the database and give up ownership. */
  close(): void;
  /** Make the database's files root-only (the directory already is). */
  tighten(): void;
}

/** Prepare <dir>/store, take ownership, open the database. Throws StoreError('open' | 'in-use'). */
export function openEmbedded(dir: string): EmbeddedHandle {
  if (!isAbsolute(dir)) throw new StoreError('open', `store directory ${dir}: must be an absolute path`, dir);
  const storeDir = join(resolve(dir), STORE_SUBDIR);
  const dbPath = join(storeDir, DB_FILE);
  const where = dbPath;
  const fail = (what: string, err?: unknown): never => {
    throw new StoreError('open', `store at ${where}: ${what}${err ? `: ${reasonOf(err)}` : ''}`, where, { cause: err });
  };

  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    fail(`cannot create the state directory ${dir}`, err);
  }
  try {
    mkdirSync(storeDir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') fail('cannot create its directory', err);
  }
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(storeDir);
  } catch (err) {
    return fail('cannot read its directory', err);
  }
  if (!st.isDirectory()) fail(`${storeDir} is not a directory`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) fail(`${storeDir} belongs to uid ${st.uid}, not to this agent (uid ${uid})`);
  try {
    if ((st.mode & 0o777) !== 0o700) chmodSync(storeDir, 0o700);
  } catch (err) {
    fail('cannot make its directory root-only', err);
  }

  const ownerPath = join(storeDir, OWNER_FILE);
  takeOwnership(ownerPath, where);
  // Whatever lock directory is there now was left by a dead owner: SQLite would take it for
  // a live writer (and refuse to open, or to roll back a half-written transaction).
  let db: WasmDatabase;
  try {
    rmSync(`${dbPath}.lock`, { recursive: true, force: true });
    db = new (loadWasm().Database)(dbPath);
  } catch (err) {
    releaseOwnership(ownerPath);
    return fail('cannot open the database', err);
  }
  try {
    // The order matters: write-ahead logging needs the exclusive locking mode in this build.
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    const mode = db.get('PRAGMA journal_mode = WAL') as { journal_mode?: string } | null;
    if (mode?.journal_mode !== 'wal') throw new Error(`journal mode is ${mode?.journal_mode ?? 'unknown'}, not wal`);
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA foreign_keys = ON');
    // Reads the header: a file that is not a database fails here, not at the first write.
    db.get('SELECT count(*) AS n FROM sqlite_schema');
  } catch (err) {
    closeQuietly(db);
    releaseOwnership(ownerPath);
    fail('cannot open the database', err);
  }

  let closed = false;
  return {
    dialect: new WasmSqliteDialect(db, where),
    where,
    close() {
      if (closed) return;
      closed = true;
      closeQuietly(db);
      releaseOwnership(ownerPath);
    },
    tighten() {
      for (const name of readdirSync(storeDir)) {
        if (name.startsWith(DB_FILE) && !name.endsWith('.lock')) {
          try {
            chmodSync(join(storeDir, name), 0o600);
          } catch {
            // a journal that went away in between
          }
        }
      }
    },
  };
}

function closeQuietly(db: WasmDatabase): void {
  try {
    if (db.isOpen) db.close();
  } catch {
    // closing is best effort: the owner file is what protects the next opener
  }
}

// --- ownership ---------------------------------------------------------------------------

function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null; // field 22, starttime
  } catch {
    return null;
  }
}

function alive(pid: number, start: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const now = startTime(pid);
  return now === null || now === start; // a reused pid has another start time
}

// Stores this process holds: an owner file naming this pid but not listed here is a previous
// incarnation's (a restarted container's agent often gets the same pid).
const ownedHere = new Set<string>();

function takeOwnership(ownerPath: string, where: string): void {
  const me = `${process.pid} ${startTime(process.pid) ?? '0'}\n`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(ownerPath, me, { flag: 'wx', mode: 0o600 });
      ownedHere.add(ownerPath);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StoreError('open', `store at ${where}: cannot write its owner file: ${reasonOf(err)}`, where, { cause: err });
      }
    }
    let text = '';
    try {
      text = readFileSync(ownerPath, 'utf8');
    } catch {
      continue; // released in between: try again
    }
    const m = /^(\d+) (\d+)\s*$/.exec(text);
    const pid = Number(m?.[1]);
    if (pid === process.pid ? ownedHere.has(ownerPath) : m && alive(pid, m[2]!)) {
      const who = pid === process.pid ? 'this process (open it once, and close it before opening it again)' : `process ${pid}`;
      throw new StoreError('in-use', `store at ${where}: already open in ${who}`, where);
    }
    try {
      unlinkSync(ownerPath); // a dead owner's, or garbage
    } catch {
      // another opener removed it first; the exclusive create decides
    }
  }
  throw new StoreError('in-use', `store at ${where}: another process is opening it`, where);
}

function releaseOwnership(ownerPath: string): void {
  ownedHere.delete(ownerPath);
  try {
    const m = /^(\d+) /.exec(readFileSync(ownerPath, 'utf8'));
    if (m && Number(m[1]) === process.pid) unlinkSync(ownerPath);
  } catch {
    // already gone
  }
}

// --- the query builder's dialect ---------------------------------------------------------

class WasmSqliteDialect implements Dialect {
  constructor(
    private readonly db: WasmDatabase,
    private readonly where: string,
  ) {}
  createAdapter() {
    return new SqliteAdapter();
  }
  createDriver(): Driver {
    return new WasmSqliteDriver(this.db, this.where);
  }
  createQueryCompiler() {
    return new SqliteQueryCompiler();
  }
  // biome-ignore lint/suspicious/noExplicitAny: the signature Kysely's Dialect interface asks for
  createIntrospector(db: Kysely<any>) {
    return new SqliteIntrospector(db);
  }
}

/** One connection, so one user at a time: a queue in front of it. */
class WasmSqliteDriver implements Driver {
  private readonly conn: WasmSqliteConnection;
  private tail: Promise<void> = Promise.resolve();
  private release: (() => void) | undefined;

  constructor(db: WasmDatabase, where: string) {
    this.conn = new WasmSqliteConnection(db, where);
  }
  async init() {}
  async acquireConnection(): Promise<DatabaseConnection> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await prev;
    this.release = release;
    return this.conn;
  }
  async releaseConnection() {
    const r = this.release;
    this.release = undefined;
    r?.();
  }
  async beginTransaction(c: DatabaseConnection) {
    // IMMEDIATE: take the write lock at once (the database is exclusive to us anyway).
    await c.executeQuery(CompiledQuery.raw('BEGIN IMMEDIATE'));
  }
  async commitTransaction(c: DatabaseConnection) {
    await c.executeQuery(CompiledQuery.raw('COMMIT'));
  }
  async rollbackTransaction(c: DatabaseConnection) {
    await c.executeQuery(CompiledQuery.raw('ROLLBACK'));
  }
  async destroy() {
    // Wait for whoever holds the connection; the handle closes the database itself.
    await this.acquireConnection();
  }
}

type Bindable = number | bigint | string | Uint8Array | boolean | null;

class WasmSqliteConnection implements DatabaseConnection {
  constructor(
    private readonly db: WasmDatabase,
    private readonly where: string,
  ) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const params = compiled.parameters.map(toBindable);
    const node = compiled.query as { kind?: string; returning?: unknown } | undefined;
    const write = node?.kind === 'InsertQueryNode' || node?.kind === 'UpdateQueryNode' || node?.kind === 'DeleteQueryNode';
    if (!this.db.isOpen) throw new Error('the database is closed');
    if (write && !node?.returning) {
      const r = this.db.run(compiled.sql, params);
      return { rows: [], numAffectedRows: BigInt(r.changes), insertId: BigInt(r.lastInsertRowid) };
    }
    // all() prepares, steps and finalizes: no statement is left holding WebAssembly memory.
    return { rows: this.db.all(compiled.sql, params) as R[] };
  }

  // biome-ignore lint/correctness/useYield: the dialect must offer it; it only refuses.
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error(`store at ${this.where}: streaming queries are not supported`);
  }
}

function toBindable(v: unknown): Bindable {
  if (v === undefined) return null;
  if (v instanceof Date) return v.getTime();
  if (v === null || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'string' || typeof v === 'boolean' || v instanceof Uint8Array) return v;
  throw new TypeError(`cannot bind a ${typeof v} parameter`);
}

// The two engines the store's tests run against: the embedded one in a temporary directory,
// and a real PostgreSQL server that this helper makes itself (initdb in a temporary
// directory, a free port on 127.0.0.1, pg_ctl start; stopped and removed at the end).
// initdb refuses to run as root: as root, the server runs as the `postgres` user (or
// `nobody`), which is given the temporary directory.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import pg from 'pg';
import { StoreError, type StoreTarget } from '../../apps/agent/src/store/index.ts';
import { DB_FILE, STORE_SUBDIR } from '../../apps/agent/src/store/sqlite.ts';
import { IN_CI, IS_ROOT } from '../helpers/env.ts';

// --- embedded --------------------------------------------------------------------------------

const dirs: string[] = [];

export function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'nslab-store-'));
  dirs.push(d);
  return join(d, 'state'); // not there yet: the store creates it
}

export function removeDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

export function dbPath(dir: string): string {
  return join(dir, STORE_SUBDIR, DB_FILE);
}

type Row = Record<string, unknown>;
type WasmDb = { exec(sql: string): void; all(sql: string, v?: unknown[]): Row[]; close(): void };

/** Raw SQL on an embedded store's file, with no store open. */
function sqliteQuery(dir: string, text: string, params: unknown[] = []): Row[] {
  const { Database } = createRequire(import.meta.url)('node-sqlite3-wasm') as { Database: new (p: string) => WasmDb };
  const db = new Database(dbPath(dir));
  try {
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    return db.all(text, params);
  } finally {
    db.close();
  }
}

// --- PostgreSQL ------------------------------------------------------------------------------

function findPgBin(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')) && existsSync(join(base, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : null;
}

function userExists(name: string): boolean {
  return spawnSync('id', ['-u', name]).status === 0;
}

/** Why the PostgreSQL tests cannot run here, or false. Throws under CI=true: they must run there. */
export function pgSkip(): false | string {
  let why: string | null = null;
  if (!findPgBin()) why = 'PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; apt-get install postgresql)';
  else if (IS_ROOT && !userExists('postgres') && !userExists('nobody'))
    why = 'running as root with no unprivileged user (postgres or nobody) to run the server as';
  if (!why) return false;
  if (IN_CI) throw new Error(`the PostgreSQL store tests cannot run: ${why}; CI=true forbids skipping them`);
  return why;
}

/** A port nobody listens on now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export class PgServer {
  readonly user = 'nslab';
  readonly password = randomBytes(12).toString('hex');
  port = 0;
  private readonly bin: string;
  private readonly root: string;
  private readonly data: string;
  private readonly runAs: string | null;
  private n = 0;
  private running = false;

  constructor() {
    const bin = findPgBin();
    if (!bin) throw new Error('PostgreSQL is not installed');
    this.bin = bin;
    this.runAs = IS_ROOT ? (userExists('postgres') ? 'postgres' : 'nobody') : null;
    this.root = mkdtempSync(join(tmpdir(), 'nslab-pg-'));
    this.data = join(this.root, 'data');
  }

  private pg(cmd: string, args: string[]): string {
    const file = join(this.bin, cmd);
    const [exe, argv] = this.runAs ? ['runuser', ['-u', this.runAs, '--', file, ...args]] : [file, args];
    try {
      return execFileSync(exe, argv, { cwd: this.root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      let log = '';
      try {
        log = readFileSync(join(this.root, 'log'), 'utf8').slice(-2000);
      } catch {
        // no log yet
      }
      throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr || e.stdout || e.message}\n${log}`);
    }
  }

  async init(): Promise<void> {
    if (this.runAs) {
      const uid = Number(execFileSync('id', ['-u', this.runAs], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', this.runAs], { encoding: 'utf8' }).trim());
      chownSync(this.root, uid, gid);
    }
    chmodSync(this.root, 0o700);
    const pw = join(this.root, 'pw');
    writeFileSync(pw, `${this.password}\n`, { mode: 0o600 });
    if (this.runAs) {
      const uid = Number(execFileSync('id', ['-u', this.runAs], { encoding: 'utf8' }).trim());
      chownSync(pw, uid, -1);
    }
    this.pg('initdb', ['-D', this.data, '-U', this.user, `--pwfile=${pw}`, '-A', 'scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync']);
    rmSync(pw);
    this.port = await freePort();
    await this.start();
  }

  async start(): Promise<void> {
    const opts = `-p ${this.port} -k ${this.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`;
    this.pg('pg_ctl', ['-D', this.data, '-l', join(this.root, 'log'), '-w', '-t', '60', '-o', opts, 'start']);
    this.running = true;
  }

  async stop(): Promise<void> {
    this.pg('pg_ctl', ['-D', this.data, '-m', 'fast', '-w', '-t', '60', 'stop']);
    this.running = false;
  }

  url(database = 'postgres', password = this.password): string {
    return `postgres://${this.user}:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${database}`;
  }

  /** A new, empty database on the server; returns its URL. */
  async createDatabase(): Promise<string> {
    const name = `t${process.pid}_${++this.n}`;
    const c = new pg.Client({ connectionString: this.url() });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE ${name}`);
    } finally {
      await c.end();
    }
    return this.url(name);
  }

  async destroy(): Promise<void> {
    try {
      if (this.running) await this.stop();
    } finally {
      rmSync(this.root, { recursive: true, force: true });
    }
  }
}

async function pgQuery(url: string, text: string, params: unknown[] = []): Promise<Row[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as Row[];
  } finally {
    await c.end();
  }
}

/** Raw SQL against a store's database (an embedded one must not be open). */
export async function rawQuery(target: StoreTarget, text: string, params: unknown[] = []): Promise<Row[]> {
  if ('dir' in target) return sqliteQuery(target.dir, text.replace(/\$\d+/g, '?'), params);
  return pgQuery(target.url, text, params);
}

// --- both engines, for describe() loops --------------------------------------------------------

export interface EngineCase {
  name: 'embedded' | 'postgres';
  skip: false | string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A new, empty store's target on this engine. */
  fresh(): Promise<StoreTarget>;
}

/** The embedded engine in temporary directories, and a PostgreSQL server of this test file's own. */
export function engineCases(): EngineCase[] {
  let server: PgServer | undefined;
  return [
    { name: 'embedded', skip: false, setup: async () => {}, teardown: async () => removeDirs(), fresh: async () => ({ dir: freshDir() }) },
    {
      name: 'postgres',
      skip: pgSkip(),
      setup: async () => {
        server = new PgServer();
        await server.init();
      },
      teardown: async () => {
        await server?.destroy();
      },
      fresh: async () => ({ url: await server!.createDatabase() }),
    },
  ];
}

/** Expect the promise to fail with a StoreError of this code whose message matches. */
export async function rejects(promise: Promise<unknown>, code: string, message: RegExp): Promise<StoreError> {
  const err = await promise.then(
    () => assert.fail(`expected a StoreError ${code} matching ${message}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof StoreError, `expected a StoreError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.match(err.message, message);
  return err;
}

// A throwaway PostgreSQL server for the bench's cluster group: initdb in a temporary directory,
// one server on 127.0.0.1 and a free port, durability off (fsync and friends: nothing here must
// survive a crash), removed again by stop(). initdb refuses to run as root, so as root the
// server runs as the `postgres` user (or `nobody`), which is given the directory.
//
// The server is the bench's own child, started through setpriv with a parent-death signal
// (fast shutdown): if the bench is killed, even with SIGKILL, the server goes with it, as the
// agents do (./child.ts). Its directory names the bench's pid, so the next start removes what a
// killed run left.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { sleep } from './util.js';

const PG_BASE = '/usr/lib/postgresql';
const PREFIX = 'nslab-bench-pg-';
const USER = 'nslab';
const DATABASE = 'nslab';

/** The newest installed server's bin directory, or null. */
function findBin(): string | null {
  if (!existsSync(PG_BASE)) return null;
  const versions = readdirSync(PG_BASE)
    .filter((v) => ['initdb', 'postgres'].every((f) => existsSync(join(PG_BASE, v, 'bin', f))))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(PG_BASE, versions[0], 'bin') : null;
}

function ids(user: string): { uid: number; gid: number } | null {
  const u = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  if (u.status !== 0 || g.status !== 0) return null;
  return { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Directories of earlier runs whose bench is gone (the server went with it). */
function sweepEarlier(): void {
  for (const name of readdirSync(tmpdir())) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
    if (m && Number(m[1]) !== process.pid && !alive(Number(m[1]))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no free port on 127.0.0.1'))));
    });
  });
}

export class BenchPostgres {
  /** postgres://… of the server's database; set by start(). */
  url = '';
  private readonly bin: string;
  private readonly runAs: { user: string; uid: number; gid: number } | null;
  private root: string | null = null;
  private proc: ChildProcess | null = null;
  private log = '';

  /** The server's process (its CPU is part of what a run costs), or null before start(). */
  get pid(): number | null {
    return this.proc?.pid ?? null;
  }

  /** Throws a sentence saying what to install when PostgreSQL is not here. */
  constructor(private readonly maxConnections = 100) {
    const bin = findBin();
    if (!bin) throw new Error(`PostgreSQL is not installed here (no ${PG_BASE}/*/bin/initdb): apt-get install postgresql`);
    this.bin = bin;
    if (process.getuid?.() === 0) {
      const user = ids('postgres') ? 'postgres' : 'nobody';
      const who = ids(user);
      if (!who) throw new Error('running as root with neither a postgres nor a nobody user to run PostgreSQL as');
      this.runAs = { user, ...who };
    } else this.runAs = null;
  }

  async start(): Promise<void> {
    sweepEarlier();
    const root = mkdtempSync(join(tmpdir(), `${PREFIX}${process.pid}-`));
    this.root = root;
    if (this.runAs) chownSync(root, this.runAs.uid, this.runAs.gid);
    chmodSync(root, 0o700);
    const password = randomBytes(12).toString('hex');
    const pwFile = join(root, 'pw');
    writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
    if (this.runAs) chownSync(pwFile, this.runAs.uid, this.runAs.gid);
    const data = join(root, 'data');
    const initdb = [join(this.bin, 'initdb'), '-D', data, '-U', USER, `--pwfile=${pwFile}`, '-A', 'scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync'];
    try {
      const [exe, argv] = this.runAs ? ['runuser', ['-u', this.runAs.user, '--', ...initdb]] : [initdb[0]!, initdb.slice(1)];
      execFileSync(exe, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      throw new Error(`initdb failed: ${e.stderr?.toString().trim() || e.message}`);
    } finally {
      rmSync(pwFile, { force: true });
    }

    const port = await freePort();
    const who = this.runAs ? [`--reuid=${this.runAs.uid}`, `--regid=${this.runAs.gid}`, '--init-groups'] : [];
    // -k: the Unix socket in the temporary directory, not /var/run/postgresql (the machine's own).
    const server = [join(this.bin, 'postgres'), '-D', data, '-p', String(port), '-k', root, '-c', 'listen_addresses=127.0.0.1'];
    for (const c of ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', `max_connections=${this.maxConnections}`]) server.push('-c', c);
    const proc = spawn('setpriv', [...who, '--pdeathsig', 'INT', '--', ...server], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    const keep = (d: Buffer) => (this.log = (this.log + d.toString()).slice(-4000));
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    let exited: string | null = null;
    proc.once('exit', (code, sig) => (exited = String(code ?? sig)));

    const adminUrl = `postgres://${USER}:${password}@127.0.0.1:${port}/postgres`;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (exited !== null) throw new Error(`PostgreSQL exited (${exited}) before it was ready: ${this.log.trim()}`);
      const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 });
      try {
        await c.connect();
        await c.query(`CREATE DATABASE ${DATABASE}`);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections within 60 s (${(err as Error).message}): ${this.log.trim()}`);
        await sleep(200);
      } finally {
        await c.end().catch(() => {});
      }
    }
    this.url = `postgres://${USER}:${password}@127.0.0.1:${port}/${DATABASE}`;
  }

  /** Fast shutdown (SIGKILL after 30 s), then the directory goes. Safe to call more than once. */
  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGINT');
      const t = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      await gone;
      clearTimeout(t);
    }
    if (this.root) rmSync(this.root, { recursive: true, force: true });
    this.root = null;
  }
}

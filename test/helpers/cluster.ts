// Several hosts on one machine, for the cluster tests and `npm run demo:cluster`: a bridge on the
// host (198.18.0.1/24), and per host a network namespace joined to it by a veth pair
// (198.18.0.<10+n>), with a real agent (the bundled main.cjs) inside it; one PostgreSQL for all
// of them (on the bridge and on loopback, in a temporary directory); routers on loopback in
// front. Everything it makes is named after this run (k, from the pid) and written down in a
// record under /run, so a later run can sweep what a crashed one left: its processes, its
// namespaces and links, its database server and its directories.
//
// An agent runs in its host's network namespace but in the machine's mount namespace (nsenter
// --net, not `ip netns exec`, which mounts a /sys of its own and so hides the cgroup
// filesystems the agent needs).
//
// No node:test here: the demo script uses it too.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { z } from 'zod';
import { PROTOCOL_VERSION } from '@nslab/shared';
import { agentTag } from '@nslab/shared/cluster';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';
import { IdRanges } from '../../apps/agent/src/sandbox/idrange.ts';
import { labProcesses } from '../../apps/agent/src/sandbox/sweep.ts';
import { TestClient } from './ws.ts';

/** Hosts are numbered 1 to 5: instance nslabc<n>, an id range of 20,000,000 ids of its own. */
export const MAX_HOSTS = 5;
const ID_BASE = 1_200_000_000;
const IDS_PER_HOST = 20_000_000;
const IDS_PER_LAB = 65_536;
export const AGENT_PORT = 8080;
const NET = '198.18.0';
const RECORDS = '/run/nslabc-runs';

export const hostAddress = (n: number) => `${NET}.${10 + n}`;
export const agentId = (n: number) => `host${n}`;
export const hostTag = (n: number) => agentTag(agentId(n));
export const agentUrl = (n: number) => `http://${hostAddress(n)}:${AGENT_PORT}`;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`);
}

/** The same, for clean-up: what is already gone is no error. */
function ipQuiet(...args: string[]): void {
  spawnSync('ip', args, { stdio: 'ignore', timeout: 20_000 });
}

function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no free port'))));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** What a run writes down so that a later one can clean up after it. */
const RunRecord = z.object({
  pid: z.number().int(),
  k: z.number().int(),
  root: z.string(),
  pgData: z.string().nullable(),
  pgBin: z.string().nullable(),
  routers: z.array(z.number().int()),
});
type RunRecord = z.infer<typeof RunRecord>;

const bridgeName = (k: number) => `nslcbr${k}`;
const netnsName = (k: number, n: number) => `nslc${k}-${n}`;
const vethName = (k: number, n: number) => `nslc${k}h${n}`;

function netnsList(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (r.stdout ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

/** Kill whatever runs in a network namespace, then remove it (its veth pair goes with it). */
function removeNetns(name: string): void {
  const r = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' });
  for (const pid of (r.stdout ?? '').split('\n').filter((l) => /^\d+$/.test(l))) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  ipQuiet('netns', 'del', name);
}

function stopPostgres(bin: string, data: string): void {
  if (!existsSync(join(data, 'postmaster.pid'))) return;
  spawnSync('runuser', ['-u', pgUser(), '--', join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop'], {
    stdio: 'ignore',
    timeout: 40_000,
  });
}

/** Remove what an earlier run left: every record whose process is gone, and what it names. */
export function sweepEarlierRuns(): number {
  if (!existsSync(RECORDS)) return 0;
  let swept = 0;
  for (const name of readdirSync(RECORDS)) {
    const file = join(RECORDS, name);
    let rec: RunRecord;
    try {
      rec = RunRecord.parse(JSON.parse(readFileSync(file, 'utf8')));
    } catch {
      rmSync(file, { force: true });
      continue;
    }
    if (alive(rec.pid)) continue;
    for (const pid of rec.routers) {
      // Only if it is still a router (the pid may have been given to another process since).
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('router.cjs')) process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const ns of netnsList()) if (ns.startsWith(`nslc${rec.k}-`)) removeNetns(ns);
    ipQuiet('link', 'del', bridgeName(rec.k));
    if (rec.pgBin && rec.pgData) stopPostgres(rec.pgBin, rec.pgData);
    rmSync(rec.root, { recursive: true, force: true });
    rmSync(file, { force: true });
    swept++;
  }
  return swept;
}

// --- PostgreSQL --------------------------------------------------------------------------------

function pgBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0]) throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): apt-get install postgresql');
  return join(base, versions[0], 'bin');
}

function pgUser(): string {
  return spawnSync('id', ['-u', 'postgres']).status === 0 ? 'postgres' : 'nobody';
}

const DATABASE = 'nslabcluster';
const PG_USER = 'nslab';

/** One PostgreSQL server for the whole cluster, run as an unprivileged user in `dir`. */
class Postgres {
  readonly password = randomBytes(12).toString('hex');
  readonly bin = pgBin();
  readonly data: string;
  port = 0;

  constructor(private readonly dir: string) {
    this.data = join(dir, 'data');
  }

  private run(cmd: string, args: string[]): void {
    try {
      execFileSync('runuser', ['-u', pgUser(), '--', join(this.bin, cmd), ...args], {
        cwd: this.dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 120_000,
      });
    } catch (err) {
      const e = err as { stderr?: Buffer; message: string };
      let log = '';
      try {
        log = readFileSync(join(this.dir, 'log'), 'utf8').slice(-2000);
      } catch {
        /* no log yet */
      }
      throw new Error(`${cmd} failed: ${e.stderr?.toString() || e.message}\n${log}`);
    }
  }

  async start(): Promise<void> {
    const user = pgUser();
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    chownSync(this.dir, uid, gid);
    chmodSync(this.dir, 0o700);
    const pw = join(this.dir, 'pw');
    writeFileSync(pw, `${this.password}\n`, { mode: 0o600 });
    chownSync(pw, uid, gid);
    this.run('initdb', ['-D', this.data, '-U', PG_USER, `--pwfile=${pw}`, '-A', 'scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync']);
    rmSync(pw);
    // The agents reach it over the bridge without a password: the test network exists only here.
    const hba = join(this.data, 'pg_hba.conf');
    writeFileSync(hba, `${readFileSync(hba, 'utf8')}\nhost all all ${NET}.0/24 trust\n`);
    this.port = await freePort();
    const opts = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1,${NET}.1 -c fsync=off -c max_connections=200`;
    this.run('pg_ctl', ['-D', this.data, '-l', join(this.dir, 'log'), '-w', '-t', '60', '-o', opts, 'start']);
    const c = new pg.Client({ connectionString: this.localUrl('postgres') });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE ${DATABASE}`);
    } finally {
      await c.end();
    }
  }

  /** From the machine (loopback, with the password). */
  localUrl(db = DATABASE): string {
    return `postgres://${PG_USER}:${this.password}@127.0.0.1:${this.port}/${db}`;
  }

  /** From the hosts (over the bridge). */
  get agentUrl(): string {
    return `postgres://${PG_USER}@${NET}.1:${this.port}/${DATABASE}`;
  }

  stop(): void {
    stopPostgres(this.bin, this.data);
  }
}

// --- agents and routers ------------------------------------------------------------------------

/** The last output of a child process, for an error that says what it said. */
class Output {
  text = '';
  constructor(proc: ChildProcess, echo: string | null) {
    const keep = (d: Buffer) => {
      this.text = (this.text + d.toString()).slice(-64_000);
      if (echo !== null) process.stderr.write(d.toString().replace(/^(?=.)/gm, `${echo} `));
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
  }
}

export interface HostOptions {
  /** Labs an agent holds (default 6). */
  maxLabs?: number;
  /** Serve the web app (default: no, the tests speak the protocol). */
  web?: boolean;
  /** More environment for the agent (wins over the harness's). */
  env?: Record<string, string>;
}

/** One host: its namespace and veth pair, and the agent running in it (or not, between runs). */
export class Host {
  proc: ChildProcess | null = null;
  private output: Output | null = null;
  /** Set when the harness stops the agent on purpose, so an exit is not reported as a crash. */
  private meant = false;
  readonly stateDir: string;
  readonly dataDir: string;
  readonly ids: IdRanges;

  constructor(
    readonly n: number,
    readonly netns: string,
    private readonly cluster: Cluster,
    readonly maxLabs: number,
    private readonly opts: HostOptions,
  ) {
    this.stateDir = join(cluster.root, `host${n}`, 'state');
    this.dataDir = join(cluster.root, `host${n}`, 'data');
    this.ids = new IdRanges(this.idBase, IDS_PER_LAB, maxLabs);
  }

  get id(): string {
    return agentId(this.n);
  }
  get tag(): string {
    return hostTag(this.n);
  }
  get url(): string {
    return agentUrl(this.n);
  }
  get idBase(): number {
    return ID_BASE + (this.n - 1) * IDS_PER_HOST;
  }
  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }
  get lastOutput(): string {
    return this.output?.text ?? '';
  }

  /** Start the agent and wait until it answers /healthz over the bridge. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.id} is already running`);
    mkdirSync(this.stateDir, { recursive: true });
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: process.env.HOME ?? '/root',
      NEXT_TELEMETRY_DISABLED: '1',
      HOST: hostAddress(this.n),
      PORT: String(AGENT_PORT),
      NSLAB_INSTANCE: `nslabc${this.n}`,
      NSLAB_ID_BASE: String(this.idBase),
      NSLAB_IDS_PER_LAB: String(IDS_PER_LAB),
      NSLAB_MAX_LABS: String(this.maxLabs),
      NSLAB_WARM_LABS: '0',
      NSLAB_WARM_PER_LESSON: '0',
      NSLAB_STATE_DIR: this.stateDir,
      NSLAB_DATA_DIR: this.dataDir,
      NSLAB_TOKEN: this.cluster.token,
      NSLAB_AGENT_ID: this.id,
      NSLAB_ADVERTISE_URL: this.url,
      NSLAB_CLUSTER_KEY: this.cluster.key,
      NSLAB_DATABASE_URL: this.cluster.databaseUrl,
      NSLAB_WEB: this.opts.web ? '1' : '0',
      NSLAB_SHUTDOWN_NOTICE_S: '0',
      // Behind a router every learner comes from the router's address.
      NSLAB_LABS_PER_ADDRESS: '0',
      LOG_LEVEL: 'warn',
      ...this.opts.env,
    };
    this.meant = false;
    const proc = spawn('nsenter', [`--net=/run/netns/${this.netns}`, '--', process.execPath, join(REPO_ROOT, 'apps/agent/dist/main.cjs')], {
      cwd: REPO_ROOT,
      // Only what the agent needs: nothing from the caller's environment (its own NSLAB_* settings) leaks in.
      env: env as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.output = new Output(proc, this.cluster.echo ? `[${this.id}]` : null);
    proc.once('exit', (code, signal) => {
      if (!this.meant && !this.cluster.stopping) this.cluster.log(`${this.id} exited (code ${code}, signal ${signal}):\n${this.lastOutput.slice(-4000)}`);
    });
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (!this.running) throw new Error(`the agent ${this.id} exited while starting (code ${proc.exitCode}, signal ${proc.signalCode}):\n${this.lastOutput}`);
      try {
        const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) return;
      } catch {
        /* not yet */
      }
      if (Date.now() > deadline) throw new Error(`the agent ${this.id} did not answer ${this.url}/healthz within 90 s:\n${this.lastOutput}`);
      await sleep(100);
    }
  }

  /** Resolves with how the agent process ended (at once when it is not running). */
  exited(timeoutMs = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const proc = this.proc;
    if (!proc || !this.running) return Promise.resolve({ code: proc?.exitCode ?? null, signal: proc?.signalCode ?? null });
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`the agent ${this.id} did not exit within ${timeoutMs} ms:\n${this.lastOutput.slice(-4000)}`)), timeoutMs);
      proc.once('exit', (code, signal) => {
        clearTimeout(t);
        resolve({ code, signal });
      });
    });
  }

  /** The machine's sudden death: SIGKILL, nothing said to anyone. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.meant = true;
    const done = this.exited();
    this.proc!.kill('SIGKILL');
    await done;
  }

  /** Expect the agent to end by itself (a drain): no crash report for it. */
  expectExit(): void {
    this.meant = true;
  }

  /** SIGTERM (the agent closes its labs), SIGKILL if it takes longer than `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (!this.running) return;
    this.meant = true;
    const done = this.exited(timeoutMs + 10_000);
    this.proc!.kill('SIGTERM');
    const t = setTimeout(() => this.proc?.kill('SIGKILL'), timeoutMs);
    await done.finally(() => clearTimeout(t));
  }

  /** Its /healthz (status and body). */
  async health(): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.json() };
  }

  /** Host processes whose uid lies in this host's lab id ranges (none once its agent is gone). */
  labProcesses(): number[] {
    return labProcesses(this.ids);
  }
}

export interface RouterOptions {
  /** Listen on this port of 127.0.0.1 (default: any free one). */
  port?: number;
  /** The agents it knows (default: every host the cluster may have, started or not). */
  agents?: string[];
  env?: Record<string, string>;
}

const ROUTER_LINE = /^nslab router listening on (http:\/\/\S+)$/m;

/** A router on loopback in front of the hosts. */
export class Router {
  private output: Output;
  private meant = false;
  url = '';

  constructor(
    readonly proc: ChildProcess,
    cluster: Cluster,
  ) {
    this.output = new Output(proc, cluster.echo ? '[router]' : null);
    proc.once('exit', (code, signal) => {
      if (!this.meant && !cluster.stopping) cluster.log(`a router exited (code ${code}, signal ${signal}):\n${this.output.text.slice(-4000)}`);
    });
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  async ready(): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const m = ROUTER_LINE.exec(this.output.text);
      if (m) {
        this.url = m[1]!;
        return;
      }
      if (this.proc.exitCode !== null) throw new Error(`the router exited while starting (code ${this.proc.exitCode}):\n${this.output.text}`);
      if (Date.now() > deadline) throw new Error(`the router did not say where it listens within 30 s:\n${this.output.text}`);
      await sleep(50);
    }
  }

  /** The router's own /healthz. */
  async health(): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.json() };
  }

  /** Wait until the router sees each of these agents in the state `want` (by `free`, `healthy`...). */
  async waitAgents(what: string, want: (agents: any[]) => boolean, timeoutMs = 20_000): Promise<any[]> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown = null;
    for (;;) {
      try {
        const { body } = await this.health();
        last = body.agents;
        if (Array.isArray(body.agents) && want(body.agents)) return body.agents;
      } catch (err) {
        last = err;
      }
      if (Date.now() > deadline) throw new Error(`the router did not see ${what} within ${timeoutMs} ms; it sees ${JSON.stringify(last)}`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.meant = true;
    const done = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(t);
  }
}

export interface ClusterOptions extends HostOptions {
  /** Hosts started at once, 1..hosts (default 3). */
  hosts?: number;
  /** Copy the agents' and routers' output to stderr, prefixed (the demo; a failing test's debugging). */
  echo?: boolean;
  /** Where the harness's own notices go (default stderr). */
  log?: (line: string) => void;
}

/** Refuse to start next to another user of the test network (its addresses would clash). */
function checkNetworkFree(): void {
  const r = spawnSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' });
  const clash = (r.stdout ?? '').split('\n').find((l) => l.includes(` ${NET}.`));
  if (clash)
    throw new Error(
      `${NET}.0/24 is already in use on this machine (${clash.trim().split(/\s+/)[1]}): another cluster harness or demo is running; stop it first`,
    );
}

export class Cluster {
  readonly k = process.pid % 10_000;
  readonly root: string;
  readonly key = randomBytes(24).toString('base64url');
  readonly token = `cluster-${randomBytes(16).toString('hex')}`;
  readonly hosts = new Map<number, Host>();
  readonly routers = new Set<Router>();
  readonly echo: boolean;
  stopping = false;
  private pg: Postgres | null = null;
  private readonly recordFile: string;
  private readonly onExit = () => this.emergencyCleanup();

  private constructor(private readonly opts: ClusterOptions) {
    this.echo = opts.echo ?? false;
    this.root = mkdtempSync(join(tmpdir(), 'nslabc-'));
    chmodSync(this.root, 0o755);
    this.recordFile = join(RECORDS, String(process.pid));
  }

  log(line: string): void {
    (this.opts.log ?? ((l: string) => process.stderr.write(`# ${l}\n`)))(line);
  }

  get bridge(): string {
    return bridgeName(this.k);
  }

  get databaseUrl(): string {
    if (!this.pg) throw new Error('no database yet');
    return this.pg.agentUrl;
  }

  /** The cluster's database from this machine (for tests that read what the agents wrote). */
  get localDatabaseUrl(): string {
    if (!this.pg) throw new Error('no database yet');
    return this.pg.localUrl();
  }

  /** A bridge, one PostgreSQL, and `hosts` hosts with their agents running. Cleans up on failure. */
  static async start(opts: ClusterOptions = {}): Promise<Cluster> {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0)
      throw new Error('the cluster harness needs root (network namespaces, a bridge, agents)');
    for (const tool of ['ip', 'nsenter', 'runuser']) {
      if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`the cluster harness needs ${tool} (iproute2, util-linux)`);
    }
    sweepEarlierRuns();
    checkNetworkFree();
    const c = new Cluster(opts);
    try {
      await c.setUp(opts.hosts ?? 3);
      return c;
    } catch (err) {
      await c.stop().catch(() => {});
      throw err;
    }
  }

  private writeRecord(): void {
    mkdirSync(RECORDS, { recursive: true });
    const rec: RunRecord = {
      pid: process.pid,
      k: this.k,
      root: this.root,
      pgData: this.pg?.data ?? null,
      pgBin: this.pg?.bin ?? null,
      routers: [...this.routers].map((r) => r.proc.pid!).filter(Boolean),
    };
    writeFileSync(this.recordFile, JSON.stringify(rec));
  }

  private async setUp(hosts: number): Promise<void> {
    this.writeRecord();
    process.once('exit', this.onExit);
    ip('link', 'add', this.bridge, 'type', 'bridge');
    ip('addr', 'add', `${NET}.1/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
    this.pg = new Postgres(join(this.root, 'pg'));
    mkdirSync(join(this.root, 'pg'));
    this.writeRecord();
    await this.pg.start();
    for (let n = 1; n <= hosts; n++) this.addHost(n);
    // One at a time: two cores, and each first start creates the store's tables.
    for (let n = 1; n <= hosts; n++) await this.host(n).start();
  }

  /** Make host `n`'s namespace (its agent is not started: call start()). */
  addHost(n: number, opts: HostOptions = {}): Host {
    if (!Number.isInteger(n) || n < 1 || n > MAX_HOSTS) throw new Error(`hosts are numbered 1 to ${MAX_HOSTS}`);
    if (this.hosts.has(n)) throw new Error(`host ${n} exists`);
    const ns = netnsName(this.k, n);
    const veth = vethName(this.k, n);
    const peer = `${veth}p`;
    ip('netns', 'add', ns);
    const host = new Host(n, ns, this, opts.maxLabs ?? this.opts.maxLabs ?? 6, { ...this.opts, ...opts, env: { ...this.opts.env, ...opts.env } });
    this.hosts.set(n, host);
    ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', ns);
    ip('link', 'set', veth, 'master', this.bridge);
    ip('link', 'set', veth, 'up');
    ip('-n', ns, 'link', 'set', peer, 'name', 'eth0');
    ip('-n', ns, 'addr', 'add', `${hostAddress(n)}/24`, 'dev', 'eth0');
    ip('-n', ns, 'link', 'set', 'eth0', 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'route', 'add', 'default', 'via', `${NET}.1`);
    return host;
  }

  host(n: number): Host {
    const h = this.hosts.get(n);
    if (!h) throw new Error(`no host ${n}`);
    return h;
  }

  /** Which host a lab id names (by its tag), or null. */
  hostOf(labId: string): Host | null {
    for (const h of this.hosts.values()) if (labId.startsWith(h.tag)) return h;
    return null;
  }

  /** A router in front of the hosts (by default it knows all MAX_HOSTS, started or not). */
  async startRouter(opts: RouterOptions = {}): Promise<Router> {
    const bundle = join(REPO_ROOT, 'apps/router/dist/router.cjs');
    if (!existsSync(bundle)) throw new Error(`no router bundle at ${bundle}: build it with node scripts/prepare.mjs`);
    const agents = opts.agents ?? Array.from({ length: MAX_HOSTS }, (_, i) => agentUrl(i + 1));
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/root',
      NSLAB_ROUTER_HOST: '127.0.0.1',
      NSLAB_ROUTER_PORT: String(opts.port ?? 0),
      NSLAB_AGENTS: agents.join(','),
      NSLAB_CLUSTER_KEY: this.key,
      NSLAB_HEALTH_INTERVAL_MS: '300',
      LOG_LEVEL: 'warn',
      ...opts.env,
    };
    const proc = spawn(process.execPath, [bundle], { cwd: REPO_ROOT, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const router = new Router(proc, this);
    this.routers.add(router);
    proc.once('exit', () => this.routers.delete(router));
    this.writeRecord();
    await router.ready();
    return router;
  }

  /** Stop everything: routers, agents (SIGTERM), the database, the namespaces, the bridge, the directories. */
  async stop(): Promise<void> {
    this.stopping = true;
    const errors: string[] = [];
    await Promise.all([...this.routers].map((r) => r.stop().catch((e) => errors.push(String(e)))));
    await Promise.all([...this.hosts.values()].map((h) => h.stop().catch((e) => errors.push(String(e)))));
    // What the agents leave must be nothing: no process in any host's lab id ranges.
    const deadline = Date.now() + 10_000;
    let left: Array<[string, number[]]> = [];
    for (;;) {
      left = [...this.hosts.values()].map((h): [string, number[]] => [h.id, h.labProcesses()]).filter(([, p]) => p.length > 0);
      if (left.length === 0 || Date.now() > deadline) break;
      await sleep(50);
    }
    for (const [, pids] of left) for (const pid of pids) spawnSync('kill', ['-9', String(pid)]);
    if (left.length) errors.push(`lab processes left after the agents stopped: ${JSON.stringify(left)}`);
    for (const h of this.hosts.values()) removeNetns(h.netns);
    this.hosts.clear();
    ipQuiet('link', 'del', this.bridge);
    try {
      this.pg?.stop();
    } catch (err) {
      errors.push(String(err));
    }
    rmSync(this.root, { recursive: true, force: true });
    rmSync(this.recordFile, { force: true });
    process.off('exit', this.onExit);
    if (errors.length) throw new Error(`the cluster did not stop cleanly: ${errors.join('; ')}`);
  }

  /** On a process exit without stop(): kill what is ours and remove it, synchronously. */
  private emergencyCleanup(): void {
    for (const r of this.routers) r.proc.kill('SIGKILL');
    for (const h of this.hosts.values()) removeNetns(h.netns);
    ipQuiet('link', 'del', this.bridge);
    if (this.pg) stopPostgres(this.pg.bin, this.pg.data);
    rmSync(this.root, { recursive: true, force: true });
    rmSync(this.recordFile, { force: true });
  }
}

/** Rows of the cluster's database (from this machine), for what the agents must have written. */
export async function query(cluster: Cluster, text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const c = new pg.Client({ connectionString: cluster.localDatabaseUrl });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

// --- protocol clients --------------------------------------------------------------------------

export interface ClientOptions {
  /** The agent token (the harness's own, by default none: a browser or an anonymous client). */
  token?: string;
  /** A session cookie (`name=value`), with the page's origin. */
  cookie?: string;
  origin?: string;
  /** The lab this connection is about: a router takes it to that lab's agent. */
  lab?: string;
}

/** A protocol client on `url` (an agent or a router), with `?v=` and `lab=` as the web page sends them. */
export function connect(url: string, opts: ClientOptions = {}): Promise<TestClient> {
  const headers: Record<string, string> = {};
  if (opts.cookie) headers.cookie = opts.cookie;
  if (opts.origin ?? opts.cookie) headers.origin = opts.origin ?? url;
  const query = `?v=${PROTOCOL_VERSION}${opts.lab !== undefined ? `&lab=${encodeURIComponent(opts.lab)}` : ''}`;
  return TestClient.connect(url, opts.token, headers, query);
}

/** Open a lab of `lesson` on this connection; its id. */
export async function openLab(c: TestClient, lesson = 'uts'): Promise<string> {
  const r = await c.request({ type: 'open', lesson });
  if (r.type !== 'result') throw new Error(`open ${lesson}: ${JSON.stringify(r)}`);
  return r.data.id as string;
}

/** Run a command in a lab's pane over this connection; its standard output. */
export async function execIn(c: TestClient, lab: string, argv: string[], pane = 'host'): Promise<string> {
  const r = await c.request({ type: 'exec', lab, pane, argv });
  if (r.type !== 'result') throw new Error(`exec in ${lab}: ${JSON.stringify(r)}`);
  return Buffer.from(r.data.stdout, 'base64').toString();
}

/** A close code and reason the router sends (docs/router.md). */
export const ROUTER_CLOSE = {
  altered: { code: 4403, reason: 'this lab address was altered or is not from this cluster' },
  gone: { code: 4410, reason: 'the machine holding your lab stopped; open a new one' },
  noRoom: { code: 4503, reason: 'no machine has room for a new lab right now; try again in a minute' },
} as const;

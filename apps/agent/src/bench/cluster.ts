// `--only cluster`: issue 14's "several agents with many learners each, all at once, through the
// router". One PostgreSQL (./postgres.ts) shared by N agents (child processes on loopback, each
// with its own instance, id range and agent id, the same cluster key), the router bundle in
// front; then N × L learners (./load.ts's, each a browser: a session cookie from /api/session
// through the router, a WebSocket through the router that names no lab, so the router places
// it) each doing a lesson to its last task, all at once. Measured beside a baseline from the same
// run: failed learners (target 0), each learner's time (one learner alone on the idle cluster),
// how placement spread the labs, the router's CPU (the agents' as its baseline) and its memory
// per thousand open WebSockets (its idle RSS as baseline). Beside them, to say why learners
// fail when they do: each agent's event-loop delay and the time of an `exec` in a lab (what a
// task check does), alone and under the load, and the CPU of everything taking part.
//
// Bounded: a learner gives up after 5 minutes, the group after 15; whatever it started (router,
// agents, PostgreSQL, directories) is stopped and removed whatever happened.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ExecResult } from '@nslab/shared';
import { agentTag, labIdTag } from '@nslab/shared/cluster';
import { REPO_ROOT } from '../paths.js';
import { startChild, startChildAgent, type Child, type ChildAgent } from './child.js';
import { learn, loopP99, scripts, type Learner, type Script } from './load.js';
import { BenchPostgres } from './postgres.js';
import { cpuSeconds, median, pct, round, rssMb, sleep, type Metric } from './util.js';

export interface ClusterBenchOptions {
  agents: number;
  /** Learners per agent. */
  learners: number;
  say: (msg: string) => void;
}

const LEARNER_LIMIT_MS = 5 * 60_000;
const GROUP_LIMIT_MS = 15 * 60_000;
/** Each agent's id range: 20,000,000 ids from 440,000,000 on (far from the tests' and the other groups'). */
const ID_BASE = 440_000_000;
const IDS_PER_AGENT = 20_000_000;
const IDS_PER_LAB = 65_536;
const MAX_AGENTS = 9; // instance names nslabbenchc1..9 stay within 12 characters

const instance = (n: number) => `nslabbenchc${n}`;
const agentIdOf = (n: number) => `benchc${n}`;

const RouterHealth = z.object({ agents: z.array(z.object({ id: z.string().nullable(), healthy: z.boolean() })) });
const AgentHealth = z.object({ capacity: z.object({ open: z.number(), free: z.number(), warm: z.number(), max: z.number() }) });

async function getJson<T>(url: string, schema: z.ZodType<T>): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return schema.parse(await res.json());
}

/** Is this the agent's own code: node, or a helper that names itself (the spawner is `nslab-spawner`)? */
const isAgentCode = (comm: string) => comm === 'node' || comm.startsWith('nslab-');

/** A process and its descendants; with `agentOnly`, the agent's own (its spawner; not the labs' processes). */
function processTree(pid: number, agentOnly: boolean): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${out[i]}/task`);
    } catch {
      continue;
    }
    for (const t of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of children.split(' ').filter(Boolean).map(Number)) {
        try {
          if (!agentOnly || isAgentCode(readFileSync(`/proc/${c}/comm`, 'utf8').trim())) out.push(c);
        } catch {
          /* gone */
        }
      }
    }
  }
  return out;
}

/** CPU seconds per process, for the deltas of a run. */
function cpuOf(pids: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const p of pids) {
    try {
      m.set(p, cpuSeconds(p));
    } catch {
      /* gone */
    }
  }
  return m;
}

/** Busy and total CPU time of the whole machine, all cores (clock ticks, /proc/stat). */
function machineCpu(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total }; // idle and iowait are not busy
}

/**
 * The agent's own speed under the load, beside the learners: an `exec` of `true` in a lab of the
 * probe's, every 500 ms, with the agent's token. A lesson's task checks are such execs: when they
 * lag, a learner who stops a process a few seconds after starting it is never ticked.
 */
class ExecProbe {
  private times: number[] = [];
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();
  private constructor(
    private readonly client: Awaited<ReturnType<ChildAgent['connect']>>,
    private readonly lab: string,
  ) {}

  static async start(agent: ChildAgent): Promise<ExecProbe> {
    const client = await agent.connect();
    const lab = z.object({ id: z.string() }).parse(await client.request({ type: 'open', lesson: 'uts' })).id;
    return new ExecProbe(client, lab);
  }

  /** Measure from now until take(). */
  begin() {
    this.times = [];
    this.stopped = false;
    this.loop = (async () => {
      while (!this.stopped) {
        const t0 = performance.now();
        try {
          ExecResult.parse(await this.client.request({ type: 'exec', lab: this.lab, pane: 'host', argv: ['true'] }, { timeoutMs: 60_000 }));
          this.times.push(performance.now() - t0);
        } catch {
          this.times.push(60_000);
        }
        await sleep(500);
      }
    })();
  }

  async take(): Promise<number[]> {
    this.stopped = true;
    await this.loop;
    return this.times;
  }

  async close() {
    this.stopped = true;
    await this.loop;
    await this.client.request({ type: 'close', lab: this.lab }, { timeoutMs: 5000 }).catch(() => {});
    await this.client.close();
  }
}

/** CPU seconds used between two snapshots (a process that appeared counts from zero). */
const cpuUsed = (before: Map<number, number>, after: Map<number, number>) => [...after].reduce((s, [p, c]) => s + c - (before.get(p) ?? 0), 0);

/** What happened to one learner. */
interface Outcome {
  lesson: string;
  lab: string;
  ok: boolean;
  ms: number;
  /** Why it failed (a refusal, a stall, tasks not done, it gave up), or null. */
  why: string | null;
}

class Run {
  readonly learners = new Set<Learner>();
  /** WebSockets open now through the router; the most at once, with the router's RSS then (sampled). */
  open = 0;
  peak = { open: 0, rssMb: 0 };

  constructor(
    readonly routerUrl: string,
    readonly key: Buffer,
    readonly agentOfTag: Map<string, string>,
  ) {}

  agentOf(lab: string): string {
    if (!lab) return 'no lab yet';
    const tag = labIdTag(this.key, lab);
    return tag ? (this.agentOfTag.get(tag) ?? `unknown tag ${tag}`) : 'an id not from this cluster';
  }

  /** One learner's lesson through the router, given up after LEARNER_LIMIT_MS. */
  async learner(script: Script): Promise<Outcome> {
    const t0 = performance.now();
    let l: Learner | null = null;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`gave up after ${LEARNER_LIMIT_MS / 60_000} minutes (${l?.done.size ?? 0} of ${script.tasks} tasks done)`));
        l?.close();
      }, LEARNER_LIMIT_MS);
    });
    const connected = (x: Learner) => {
      l = x;
      this.learners.add(x);
      this.open++;
      x.ws.once('close', () => {
        this.open--;
        this.learners.delete(x);
      });
    };
    try {
      const r = await Promise.race([learn(this.routerUrl, script, undefined, connected), gaveUp]);
      const lab = (l as Learner | null)?.lab ?? '';
      return { lesson: script.lesson, lab, ok: r.allDone, ms: r.ms, why: r.allDone ? null : `tasks not done: ${r.missing.join(', ')}` };
    } catch (err) {
      const lab = (l as Learner | null)?.lab ?? '';
      return { lesson: script.lesson, lab, ok: false, ms: performance.now() - t0, why: explain(script, (err as Error).message) };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A learner's error, with the command it was waiting for when the error names a marker. */
function explain(script: Script, message: string): string {
  const m = /marker (\d+) in (\S+)/.exec(message);
  if (!m || m[1] === '0') return message;
  const command = script.steps.flatMap((s) => s.commands.map((c) => ({ step: s.id, ...c })))[Number(m[1]) - 1];
  return command ? `${message} (step ${command.step}: ${command.text.slice(0, 60)})` : message;
}

export async function runClusterBench(o: ClusterBenchOptions): Promise<Metric[]> {
  if (!Number.isInteger(o.agents) || o.agents < 1 || o.agents > MAX_AGENTS) throw new Error(`--cluster-agents: 1 to ${MAX_AGENTS}, not ${o.agents}`);
  // Room for every learner, the pools and the spread placement gives: 64 for 50 learners.
  const maxLabs = Math.max(64, o.learners + 14);
  if (!Number.isInteger(o.learners) || o.learners < 1 || maxLabs * IDS_PER_LAB > IDS_PER_AGENT)
    throw new Error(`--cluster-learners: 1 to ${Math.floor(IDS_PER_AGENT / IDS_PER_LAB) - 14} per agent (each agent's id range), not ${o.learners}`);
  const bundle = join(REPO_ROOT, 'apps/router/dist/router.cjs');
  if (!existsSync(bundle)) throw new Error('the router bundle is missing; run node scripts/prepare.mjs');
  const postgres = new BenchPostgres(40 + 15 * o.agents); // throws "apt-get install postgresql" when absent

  const agents: ChildAgent[] = [];
  let router: Child | null = null;
  let run: Run | null = null;
  const probes: ExecProbe[] = [];
  const dataRoot = mkdtempSync(join(tmpdir(), 'nslab-bench-cluster-'));
  let limit: NodeJS.Timeout | undefined;
  try {
    const work = (async () => {
      o.say(`cluster: PostgreSQL, ${o.agents} agents, the router...`);
      await postgres.start();
      const key = randomBytes(24).toString('hex');
      // One after another: the first creates the schema, the others find it there.
      for (let n = 1; n <= o.agents; n++) {
        agents.push(
          await startChildAgent(undefined, {
            NSLAB_INSTANCE: instance(n),
            NSLAB_STATE_DIR: `/run/${instance(n)}`,
            NSLAB_DATA_DIR: join(dataRoot, instance(n)),
            NSLAB_ID_BASE: String(ID_BASE + (n - 1) * IDS_PER_AGENT),
            NSLAB_MAX_LABS: String(maxLabs),
            NSLAB_AGENT_ID: agentIdOf(n),
            NSLAB_CLUSTER_KEY: key,
            NSLAB_DATABASE_URL: postgres.url,
            NSLAB_WARM_LABS: '2',
            // Every learner reaches the agents from the router's address: no per-address caps.
            NSLAB_LABS_PER_ADDRESS: '0',
            NSLAB_RATE_OPENS_BURST: '100000',
            NSLAB_RATE_OPENS_PER_MIN: '100000',
            NSLAB_RATE_ADDRESS_OPENS_BURST: '100000',
            NSLAB_RATE_ADDRESS_OPENS_PER_MIN: '100000',
          }),
        );
      }
      const started = await startChild(
        bundle,
        {
          PATH: process.env.PATH,
          NODE_ENV: 'production',
          NSLAB_ROUTER_HOST: '127.0.0.1',
          NSLAB_ROUTER_PORT: '0',
          NSLAB_AGENTS: agents.map((a) => a.url).join(','),
          NSLAB_CLUSTER_KEY: key,
          NSLAB_HEALTH_INTERVAL_MS: '500',
          LOG_LEVEL: 'warn',
        },
        /listening on (http:\/\/[^\s]+)/,
        'the router',
      );
      router = started.child;
      const routerPid = router.proc.pid!;
      const routerUrl = started.m[1]!;
      run = new Run(routerUrl, Buffer.from(key), new Map(agents.map((_, i) => [agentTag(agentIdOf(i + 1)), agentIdOf(i + 1)])));
      await settle(o, routerUrl, agents);
      for (const a of agents) probes.push(await ExecProbe.start(a));

      const all = scripts().filter((s) => s.steps.some((st) => st.commands.length));
      const loops = () => Promise.all(agents.map((a) => loopP99(a.url, a.token)));

      // Baseline: one learner alone through the router on the idle cluster, each lesson once.
      o.say(`cluster: one learner alone through the router, ${all.length} lessons...`);
      await loops();
      for (const p of probes) p.begin();
      const alone: number[] = [];
      for (const s of all) {
        const r = await run.learner(s);
        if (!r.ok) o.say(`  alone: ${s.lesson} on ${run.agentOf(r.lab)}: ${r.why}`);
        else alone.push(r.ms);
      }
      const aloneLoop = Math.max(...(await loops()));
      const aloneExec = (await Promise.all(probes.map((p) => p.take()))).flat();
      o.say(
        `  alone: median ${(median(alone) / 1000).toFixed(2)} s a lesson; agents' event-loop p99 (worst) ${(aloneLoop * 1000).toFixed(1)} ms, ` +
          `exec p50 ${median(aloneExec).toFixed(1)} ms, p99 ${pct(aloneExec, 99).toFixed(1)} ms`,
      );
      if (!alone.length) throw new Error('no lesson finished with one learner alone: the cluster does not work at all (see the lines above)');

      // Everyone at once.
      const total = o.agents * o.learners;
      await sleep(1000);
      global.gc?.();
      const rssIdle = rssMb(routerPid);
      const agentPids = agents.flatMap((a) => processTree(a.pid, true));
      const pgPids = () => processTree(postgres.pid!, false);
      const cpu0 = {
        router: cpuSeconds(routerPid),
        agents: cpuOf(agentPids),
        bench: process.cpuUsage(),
        pg: cpuOf(pgPids()),
        machine: machineCpu(),
      };
      await loops();
      for (const p of probes) p.begin();
      o.say(`cluster: ${total} learners at once (${o.learners} per agent) through the router...`);
      const sampler = setInterval(() => {
        const r = run!;
        if (r.open === 0 || r.open < r.peak.open) return;
        try {
          const now = rssMb(routerPid);
          r.peak = { open: r.open, rssMb: r.open > r.peak.open ? now : Math.max(now, r.peak.rssMb) };
        } catch {
          /* the router is gone: the learners will say so */
        }
      }, 200);
      const t0 = performance.now();
      const finished: Outcome[] = [];
      const progress = setInterval(() => {
        const bad = finished.filter((x) => !x.ok).length;
        o.say(`  ${Math.round((performance.now() - t0) / 1000)} s: ${finished.length} of ${total} finished (${bad} failed), ${run!.open} WebSockets open`);
      }, 15_000);
      let outcomes: Outcome[];
      try {
        outcomes = await Promise.all(
          Array.from({ length: total }, (_, i) =>
            run!.learner(all[i % all.length]!).then((x) => {
              finished.push(x);
              return x;
            }),
          ),
        );
      } finally {
        clearInterval(sampler);
        clearInterval(progress);
      }
      const wallS = (performance.now() - t0) / 1000;
      const loop = await loops();
      const loadExec = (await Promise.all(probes.map((p) => p.take()))).flat();
      const cpu1 = {
        router: cpuSeconds(routerPid),
        agents: cpuOf([...new Set([...agentPids, ...agents.flatMap((a) => processTree(a.pid, true))])]),
        pg: cpuOf(pgPids()),
        machine: machineCpu(),
      };
      const benchCpu = process.cpuUsage(cpu0.bench);

      // --- what it says ---------------------------------------------------------------------
      const failed = outcomes.filter((x) => !x.ok);
      const reasons = new Map<string, number>();
      for (const f of failed) {
        const k = `${f.lesson} on ${run.agentOf(f.lab)}: ${f.why}`.replace(/lab [a-z0-9]{30}/g, 'lab …');
        reasons.set(k, (reasons.get(k) ?? 0) + 1);
      }
      for (const [why, n] of [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 8)) o.say(`  failed x${n}: ${why}`);
      const times = outcomes.filter((x) => x.ok).map((x) => x.ms);
      const perAgent = new Map(agents.map((_, i) => [agentIdOf(i + 1), 0]));
      for (const x of outcomes) {
        const a = run.agentOf(x.lab);
        if (perAgent.has(a)) perAgent.set(a, perAgent.get(a)! + 1);
      }
      const spread = [...perAgent.values()];
      const routerPct = ((cpu1.router - cpu0.router) / wallS) * 100;
      const agentsPct = (cpuUsed(cpu0.agents, cpu1.agents) / wallS) * 100;
      const mainPids = new Set(agents.map((a) => a.pid));
      const spawners = (m: Map<number, number>) => new Map([...m].filter(([p]) => !mainPids.has(p)));
      const spawnersPct = (cpuUsed(spawners(cpu0.agents), spawners(cpu1.agents)) / wallS) * 100;
      const pgPct = (cpuUsed(cpu0.pg, cpu1.pg) / wallS) * 100;
      const benchPct = ((benchCpu.user + benchCpu.system) / 1e6 / wallS) * 100;
      const machinePct = ((cpu1.machine.busy - cpu0.machine.busy) / (cpu1.machine.total - cpu0.machine.total)) * 100;
      const peak = run.peak;
      o.say(
        `  all finished in ${wallS.toFixed(1)} s: ${failed.length} failed; per learner p50 ${(median(times) / 1000).toFixed(2)} s, p90 ${(pct(times, 90) / 1000).toFixed(2)} s; ` +
          `labs per agent ${[...perAgent].map(([a, n]) => `${a} ${n}`).join(', ')}; agents' event-loop p99 ${loop.map((s) => (s * 1000).toFixed(0)).join(' / ')} ms; ` +
          `exec p50 ${median(loadExec).toFixed(0)} ms, p99 ${pct(loadExec, 99).toFixed(0)} ms, max ${Math.max(...loadExec).toFixed(0)} ms`,
      );
      o.say(
        `  CPU over the run (% of one core): router ${routerPct.toFixed(1)}, agents ${agentsPct.toFixed(1)} (of which their spawners ${spawnersPct.toFixed(1)}), ` +
          `PostgreSQL ${pgPct.toFixed(1)}, the bench's learners ${benchPct.toFixed(1)}; the whole machine ${machinePct.toFixed(0)}% busy of ${cpus().length} cores, so ` +
          `${Math.max(0, machinePct * cpus().length - routerPct - agentsPct - pgPct - benchPct).toFixed(0)} (% of one core) went to the rest: the labs' own processes (commands, task checks) and anything else running here; router RSS ${rssIdle.toFixed(1)} MB idle, ` +
          `${peak.rssMb.toFixed(1)} MB with ${peak.open} WebSockets open`,
      );

      const grown = peak.open ? ((peak.rssMb - rssIdle) / peak.open) * 1000 : NaN;
      return [
        { name: 'cluster_failed_learners', value: failed.length, unit: 'learners', baseline: `target (of ${total})`, baseline_value: 0 },
        {
          name: `cluster_${total}_learners_s`,
          value: round(wallS),
          unit: 's',
          baseline: 'one learner, one lesson (median)',
          baseline_value: round(median(alone) / 1000),
        },
        {
          name: 'cluster_learner_s_p50',
          value: round(median(times) / 1000),
          unit: 's',
          baseline: 'one learner alone through the router',
          baseline_value: round(median(alone) / 1000),
        },
        {
          name: 'cluster_learner_s_p90',
          value: round(pct(times, 90) / 1000),
          unit: 's',
          baseline: 'one learner alone (p90)',
          baseline_value: round(pct(alone, 90) / 1000),
        },
        { name: 'cluster_labs_per_agent_min', value: Math.min(...spread), unit: 'labs', baseline: 'an even spread', baseline_value: round(total / o.agents) },
        { name: 'cluster_labs_per_agent_max', value: Math.max(...spread), unit: 'labs', baseline: 'an even spread', baseline_value: round(total / o.agents) },
        {
          name: 'cluster_agent_event_loop_p99_ms',
          value: round(Math.max(...loop) * 1000),
          unit: 'ms',
          baseline: 'one learner alone (worst agent)',
          baseline_value: round(aloneLoop * 1000),
        },
        {
          name: 'cluster_agent_exec_ms_p99',
          value: round(pct(loadExec, 99)),
          unit: 'ms',
          baseline: 'one learner alone',
          baseline_value: round(pct(aloneExec, 99)),
        },
        { name: 'cluster_router_cpu_pct', value: round(routerPct), unit: '%', baseline: `the ${o.agents} agents, summed`, baseline_value: round(agentsPct) },
        {
          name: 'cluster_router_rss_mb_per_1000_ws',
          value: round(grown),
          unit: 'MB',
          baseline: `router RSS idle (${peak.open} WebSockets at the peak)`,
          baseline_value: round(rssIdle),
        },
      ];
    })();
    const overtime = new Promise<never>((_, reject) => {
      limit = setTimeout(
        () => reject(new Error(`the cluster group did not finish within ${GROUP_LIMIT_MS / 60_000} minutes; everything it started is being stopped`)),
        GROUP_LIMIT_MS,
      );
    });
    return await Promise.race([work, overtime]);
  } finally {
    clearTimeout(limit);
    for (const l of (run as Run | null)?.learners ?? []) l.close();
    await Promise.allSettled(probes.map((p) => p.close()));
    await (router as Child | null)?.stop(5_000);
    await Promise.allSettled(agents.map((a) => a.stop(20_000)));
    await postgres.stop();
    rmSync(dataRoot, { recursive: true, force: true });
    // The agents' state directories, only when empty (rmdir): a directory an agent could not
    // clean up may hold a lab's mounts, which are no business of a recursive remove.
    for (let n = 1; n <= agents.length; n++) {
      for (const dir of [`/run/${instance(n)}/labs`, `/run/${instance(n)}`]) {
        try {
          rmdirSync(dir);
        } catch {
          /* not empty, or gone */
        }
      }
    }
  }
}

/** Until the router sees every agent healthy and each agent's pools have stopped growing. */
async function settle(o: ClusterBenchOptions, routerUrl: string, agents: ChildAgent[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const h = await getJson(`${routerUrl}/healthz`, RouterHealth).catch(() => null);
    if (h && h.agents.filter((a) => a.healthy).length === agents.length) break;
    if (Date.now() > deadline) throw new Error(`the router did not see ${agents.length} healthy agents within 60 s: ${JSON.stringify(h)}`);
    await sleep(200);
  }
  let last = '';
  let stableSince = Date.now();
  while (Date.now() < deadline) {
    const warm = (await Promise.all(agents.map((a) => getJson(`${a.url}/healthz`, AgentHealth)))).map((h) => h.capacity.warm);
    const now = warm.join(',');
    if (now !== last) {
      last = now;
      stableSince = Date.now();
    } else if (Date.now() - stableSince > 2000 && warm.every((w) => w > 0)) {
      o.say(`  every agent's pools are full (${now} labs made ahead)`);
      return;
    }
    await sleep(250);
  }
  o.say(`  the agents' pools did not settle within 60 s (${last} labs made ahead); going on`);
}

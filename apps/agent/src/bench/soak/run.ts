// The soak: an agent of its own (a child process, its own instance name and id range), N
// simulated learners (./learner.ts) and a chaos loop (./chaos.ts) for a while; then the agent is
// stopped and the host searched for anything it left (./leftovers.ts). The result is one table and
// a list of problems; no problem means: no stall, no byte lost or repeated, every fault told to
// whoever it hit, nothing left behind, the agent's descriptors back where they were.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { LESSON_IDS } from '@nslab/shared';
import { startChildAgent, type ChildAgent } from '../child.js';
import { fdCount, fdKinds, median, pct, rssMb, sleep } from '../util.js';
import { Chaos } from './chaos.js';
import { Learner } from './learner.js';
import { leftovers } from './leftovers.js';
import { SoakStats, reasonOf } from './stats.js';

export interface SoakOptions {
  seconds: number;
  learners: number;
  /** Lines of each `seq` run. */
  seqLines: number;
  chaos: boolean;
  instance: string;
  idBase: number;
  seed: number;
  say: (msg: string) => void;
}

export const SOAK_DEFAULTS = {
  learners: 4,
  seqLines: 2_000_000,
  chaos: true,
  instance: 'nslabsoak',
  idBase: 700_000_000,
};

const MAX_LABS = 32;
const IDS_PER_LAB = 65536;
/** Descriptors the agent may hold at the end beyond those it held at the start (a worker thread's, a timer's). */
export const FD_SLACK = 4;

export interface SoakReport {
  options: SoakOptions;
  seconds: number;
  stats: SoakStats;
  roundsPerMin: number;
  rss: { start: number; end: number; max: number; samples: number[] };
  fds: { start: number; end: number };
  /** Labs ready in the agent's pool when the descriptors were counted. */
  pool: { start: number; end: number; full: number };
  /** Descriptors the agent held at the end and not at the start, by kind (none when it held no more). */
  fdGrowth: Map<string, number>;
  /** Labs still open when the learners were done (closed by the harness before measuring). */
  labsLeftOpen: number;
  leftovers: string[];
  /** Labs the agent closed without releasing everything ("its id range stays reserved"). */
  idRangesHeld: number;
  agentWarnings: Map<string, number>;
  agentErrors: string[];
  spawners: number;
  problems: string[];
}

/** The processes in a cgroup directory (and below it), described, for a report. */
function cgroupProcs(dir: string): string {
  const pids: string[] = [];
  const walk = (d: string) => {
    try {
      pids.push(...readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean));
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    } catch {
      /* gone */
    }
  };
  walk(dir);
  if (!pids.length) return 'nothing';
  return pids
    .slice(0, 5)
    .map((pid) => {
      try {
        const st = readFileSync(`/proc/${pid}/status`, 'utf8');
        const field = (k: string) => new RegExp(`^${k}:\\s+(\\S+)`, 'm').exec(st)?.[1] ?? '?';
        const wchan = readFileSync(`/proc/${pid}/wchan`, 'utf8');
        return `pid ${pid} ${field('Name')} uid ${field('Uid')} state ${field('State')} parent ${field('PPid')} waiting in ${wchan || '?'}`;
      } catch {
        return `pid ${pid} (gone)`;
      }
    })
    .join(', ');
}

/** A small seeded generator: a soak can be run again with the same choices. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function gauge(agent: ChildAgent, name: string): Promise<number> {
  const text = await (await fetch(`${agent.url}/metrics`, { headers: { authorization: `Bearer ${agent.token}` } })).text();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/** Labs the soak's agent keeps ready: bare ones, and one per lesson with its shells at the prompt. */
const WARM_LABS = 2;
const WARM_PER_LESSON = 1;
const POOL_FULL = WARM_LABS + WARM_PER_LESSON * LESSON_IDS.length;

/**
 * Until the agent's pool of ready labs is full, so that the agent's descriptors at the start and
 * at the end are counted in the same state. A pool whose refill stopped (a failed set-up ends it
 * until the next open) is started again by opening and closing a lab. Returns the pool's size.
 */
async function fillPool(agent: ChildAgent, maxMs = 60_000): Promise<number> {
  const deadline = performance.now() + maxMs;
  let last = -1;
  let since = performance.now();
  for (;;) {
    const w = await gauge(agent, 'nslab_labs_warm');
    if (w >= POOL_FULL || performance.now() > deadline) return w;
    if (w !== last) {
      last = w;
      since = performance.now();
    } else if (performance.now() - since > 3000) {
      const c = await agent.connect();
      try {
        const lab = (await c.request({ type: 'open', lesson: 'uts' })) as { id: string };
        await c.request({ type: 'close', lab: lab.id });
      } catch {
        /* told below, if the pool never fills */
      } finally {
        await c.close();
      }
      since = performance.now();
    }
    await sleep(200);
  }
}

/**
 * One lab used once, as a learner would (attached, watched, some output), so that what the agent
 * starts on first use (its screen and facts workers, with their descriptors) is there before the
 * descriptors are first counted.
 */
async function warmUp(agent: ChildAgent) {
  const c = await agent.connect();
  try {
    const lab = (await c.request({ type: 'open', lesson: 'net' })) as { id: string };
    let pictures = 0;
    const off = c.onEvent((e) => {
      if (e.type === 'picture') pictures++;
    });
    await c.request({ type: 'attach', lab: lab.id, pane: 'host', cols: 100, rows: 30 });
    await c.request({ type: 'watch', lab: lab.id });
    c.notify({ type: 'input', lab: lab.id, pane: 'host', data: 'seq 1 1000\r' });
    const deadline = performance.now() + 5000;
    while (pictures < 2 && performance.now() < deadline) await sleep(100);
    off();
    await c.request({ type: 'close', lab: lab.id });
  } finally {
    await c.close();
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const stats = new SoakStats();
  const problems: string[] = [];
  const stateDir = `/run/${o.instance}`;
  o.say(
    `soak: ${o.seconds} s, ${o.learners} learners, chaos ${o.chaos ? 'on' : 'off'}, seq 1 ${o.seqLines}, seed ${o.seed}; agent instance ${o.instance}, ids from ${o.idBase}`,
  );
  // Every learner comes from 127.0.0.1, as behind a reverse proxy: the per-address caps are off,
  // and a learner may open a lab as often as the chaos takes one away.
  const agent = await startChildAgent(undefined, {
    NSLAB_INSTANCE: o.instance,
    NSLAB_STATE_DIR: stateDir,
    NSLAB_ID_BASE: String(o.idBase),
    NSLAB_IDS_PER_LAB: String(IDS_PER_LAB),
    NSLAB_MAX_LABS: String(MAX_LABS),
    NSLAB_WARM_LABS: String(WARM_LABS),
    NSLAB_WARM_PER_LESSON: String(WARM_PER_LESSON),
    NSLAB_LABS_PER_ADDRESS: '0',
    NSLAB_RATE_OPENS_BURST: '1000',
    NSLAB_RATE_OPENS_PER_MIN: '6000',
    NSLAB_RATE_ADDRESS_OPENS_BURST: '100000',
    NSLAB_RATE_ADDRESS_OPENS_PER_MIN: '100000',
    NSLAB_SHUTDOWN_NOTICE_S: '0',
    LOG_LEVEL: 'warn',
  });
  const agentWarnings = new Map<string, number>();
  /** The first error lines of the agent's log, whole. */
  const agentErrors: string[] = [];
  let idRangesHeld = 0;
  agent.onLine((line) => {
    if (!line.startsWith('{')) return;
    try {
      const j = JSON.parse(line) as { level?: number; msg?: string; reason?: string };
      if ((j.level ?? 0) < 40) return;
      const msg = reasonOf(`${j.msg ?? ''}${j.reason ? ` (${j.reason})` : ''}`);
      agentWarnings.set(msg, (agentWarnings.get(msg) ?? 0) + 1);
      // The first error of each kind, whole.
      if ((j.level ?? 0) >= 50 && agentErrors.length < 8 && agentWarnings.get(msg) === 1) {
        // A cgroup that would not go: who was in it, right now.
        const busy = /rmdir '([^']+)'/.exec(j.reason ?? '')?.[1];
        agentErrors.push(`${line.slice(0, 400)}${busy ? `; in ${busy} then: ${cgroupProcs(busy)}` : ''}`);
      }
      if (/id range stays reserved/.test(j.msg ?? '')) idRangesHeld++;
    } catch {
      /* not a log line */
    }
  });
  const chaos = new Chaos(agent, stats, mulberry32(o.seed ^ 0x5eed));
  const rss = { start: 0, end: 0, max: 0, samples: [] as number[] };
  const fds = { start: 0, end: 0 };
  let fdsAtStart = new Map<string, number>();
  const fdGrowth = new Map<string, number>();
  let labsLeftOpen = 0;
  let t0 = performance.now();
  let stopped = false;
  const pool = { start: 0, end: 0 };
  try {
    await warmUp(agent);
    pool.start = await fillPool(agent);
    rss.start = rss.max = rssMb(agent.pid);
    fds.start = fdCount(agent.pid);
    fdsAtStart = fdKinds(agent.pid);
    await chaos.spawnerPid();
    o.say(`  agent pid ${agent.pid}: RSS ${rss.start.toFixed(0)} MB, ${fds.start} fds, ${pool.start} of ${POOL_FULL} labs ready; learners start`);

    t0 = performance.now();
    const deadline = t0 + o.seconds * 1000;
    const learners = Array.from(
      { length: o.learners },
      (_, i) => new Learner(i + 1, { url: agent.url, stats, seqLines: o.seqLines, deadline, maxRounds: 100_000, rand: mulberry32(o.seed + i + 1) }),
    );
    const sampler = setInterval(() => {
      if (agent.exited) return;
      const mb = rssMb(agent.pid);
      rss.max = Math.max(rss.max, mb);
      rss.samples.push(mb);
    }, 1000);
    const progress = setInterval(() => {
      const s = Math.round((performance.now() - t0) / 1000);
      o.say(
        `  ${s} s: ${stats.roundsTotal} rounds, ${stats.stalls.length} stalls, ${stats.lostBytes + stats.repeatedBytes} bytes lost or repeated, ` +
          `${stats.seq.runs} seq runs, chaos ${chaos.actions} faults; agent RSS ${rss.samples.at(-1)?.toFixed(0) ?? '?'} MB`,
      );
    }, 15_000);
    try {
      await Promise.all([
        ...learners.map((l) =>
          l.run().catch((err: Error) => {
            stats.errors.push(`${l.who}: ${err.stack ?? err.message}`);
          }),
        ),
        o.chaos ? chaos.run(deadline) : Promise.resolve(),
      ]);
    } finally {
      clearInterval(progress);
      clearInterval(sampler);
    }
    const seconds = (performance.now() - t0) / 1000;
    if (agent.exited) problems.push(`the agent exited during the soak: ${agent.tail().slice(-1000)}`);
    else {
      // Back to where it started: no lab open, the warm pool full.
      const c = await agent.connect();
      try {
        const open = (await c.request({ type: 'list' })) as Array<{ id: string }>;
        labsLeftOpen = open.length;
        for (const l of open) await c.request({ type: 'close', lab: l.id }).catch(() => {});
      } finally {
        await c.close();
      }
      pool.end = await fillPool(agent);
      await chaos.spawnerPid().catch(() => null);
      // Descriptors a closing lab held go within a moment.
      const fdDeadline = performance.now() + 20_000;
      fds.end = fdCount(agent.pid);
      while (fds.end > fds.start + FD_SLACK && performance.now() < fdDeadline) {
        await sleep(500);
        fds.end = fdCount(agent.pid);
      }
      rss.end = rssMb(agent.pid);
      for (const [kind, n] of fdKinds(agent.pid)) {
        const more = n - (fdsAtStart.get(kind) ?? 0);
        if (more > 0) fdGrowth.set(kind, more);
      }
    }
    o.say(`  done after ${seconds.toFixed(0)} s; stopping the agent`);
    await agent.stop();
    stopped = true;
    if (agent.proc.signalCode === 'SIGKILL') problems.push('the agent did not stop within 20 s of SIGTERM');
    else if (agent.proc.exitCode !== 0)
      problems.push(`the agent exited with ${agent.proc.exitCode ?? agent.proc.signalCode} on SIGTERM: ${agent.tail().slice(-1000)}`);
    const left = await leftovers({
      instance: o.instance,
      stateDir,
      idBase: o.idBase,
      idsPerLab: IDS_PER_LAB,
      maxLabs: MAX_LABS,
      pids: [agent.pid, ...chaos.spawnerPids],
    });

    const s = stats;
    if (s.stalls.length) problems.push(`${s.stalls.length} stalls`);
    if (s.lostBytes) problems.push(`${s.lostBytes} bytes lost`);
    if (s.repeatedBytes) problems.push(`${s.repeatedBytes} bytes repeated`);
    if (s.seq.strange) problems.push(`${s.seq.strange} lines in seq output that do not belong there`);
    if (s.protocolFaults.length) problems.push(`protocol: ${s.protocolFaults.join('; ')}`);
    if (s.untold.length) problems.push(`lost a lab without being told: ${s.untold.join('; ')}`);
    if (s.connectionsLost.length) problems.push(`the agent closed learners' connections: ${s.connectionsLost.slice(0, 5).join('; ')}`);
    problems.push(...s.chaosProblems);
    if (s.errors.length) problems.push(`harness errors: ${s.errors.slice(0, 5).join(' | ')}`);
    if (left.length)
      problems.push(`left behind after the agent stopped: ${left.slice(0, 10).join('; ')}${left.length > 10 ? `; and ${left.length - 10} more` : ''}`);
    if (idRangesHeld) problems.push(`${idRangesHeld} labs closed without releasing everything (id range held until the next start)`);
    // Descriptors compare only in the same state: the pool of ready labs full at both ends.
    if (pool.start !== POOL_FULL || pool.end !== POOL_FULL)
      problems.push(`the agent's pool of ready labs did not fill (${pool.start} of ${POOL_FULL} at the start, ${pool.end} at the end)`);
    else if (fds.end > fds.start + FD_SLACK) problems.push(`agent descriptors grew from ${fds.start} to ${fds.end}`);
    if (s.roundsTotal === 0) problems.push('no round completed');
    return {
      options: o,
      seconds,
      stats,
      roundsPerMin: s.roundsTotal / (seconds / 60),
      rss,
      fds,
      pool: { ...pool, full: POOL_FULL },
      fdGrowth,
      labsLeftOpen,
      leftovers: left,
      idRangesHeld,
      agentWarnings,
      agentErrors,
      spawners: chaos.spawnerPids.size,
      problems,
    };
  } finally {
    if (!stopped) await agent.stop();
  }
}

const fmtMap = (m: Map<string, number>, empty = 'none') =>
  m.size
    ? [...m.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k}: ${v}`)
        .join('; ')
    : empty;

/** RSS at the end of each minute, when the run lasted more than one. */
function rssByMinute(samples: number[]): string {
  if (samples.length < 120) return '';
  const marks: string[] = [];
  for (let i = 59; i < samples.length; i += 60) marks.push(samples[i]!.toFixed(0));
  return ` (by minute: ${marks.join(' ')})`;
}

/** The soak's one table. */
export function formatReport(r: SoakReport): string {
  const s = r.stats;
  const o = r.options;
  const ms = (xs: number[]) => (xs.length ? `${median(xs).toFixed(0)} / ${pct(xs, 99).toFixed(0)} ms (n=${xs.length})` : 'n/a');
  const chaos = [...s.chaos.entries()]
    .map(([k, c]) => `${k} ${c.done}${c.told ? ` (told ${c.told})` : ''}${c.failed.size ? ` [not done: ${fmtMap(c.failed)}]` : ''}`)
    .join('; ');
  const rows: Array<[string, string]> = [
    ['run', `${r.seconds.toFixed(0)} s, ${o.learners} learners, chaos ${o.chaos ? 'on' : 'off'}, seq 1 ${o.seqLines}, seed ${o.seed}`],
    ['rounds', `${s.roundsTotal} (${r.roundsPerMin.toFixed(1)}/min): ${fmtMap(s.rounds)}`],
    ['stalls', s.stalls.length ? s.stalls.map((x) => `${x.who}: ${x.what} (${x.bytes} bytes, ${Math.round(x.ms)} ms)`).join('; ') : '0'],
    ['lost bytes', `${s.lostBytes}${s.faults.length ? `: ${s.faults.slice(0, 5).join('; ')}` : ''}`],
    ['repeated bytes', String(s.repeatedBytes)],
    [
      'seq runs',
      `${s.seq.runs}: ${s.seq.strict} checked whole (${s.seq.numbers} numbers), ${s.seq.resynced} checked from a snapshot on, ${s.seq.endInSnapshot} ended inside a snapshot, ` +
        `${s.seq.interrupted} cut by a fault; missing ${s.seq.missing}, repeated ${s.seq.repeated}, strange lines ${s.seq.strange}`,
    ],
    ['Ctrl-C to prompt p50/p99', `${ms(s.ctrlCMs)} (bound 15000 ms)`],
    ['open to both prompts p50/p99', ms(s.openMs)],
    ['replays', fmtMap(s.replays)],
    ['snapshots', fmtMap(s.snapshots as Map<string, number>)],
    ['told (lab or pane lost)', fmtMap(s.told)],
    ['lost without being told', s.untold.length ? s.untold.join('; ') : '0'],
    ['failed requests', fmtMap(s.failed)],
    ['chaos', chaos || 'off'],
    ['chaos problems', s.chaosProblems.length ? s.chaosProblems.join('; ') : 'none'],
    ['agent RSS start/max/end', `${r.rss.start.toFixed(1)} / ${r.rss.max.toFixed(1)} / ${r.rss.end.toFixed(1)} MB${rssByMinute(r.rss.samples)}`],
    [
      'agent fds start/end',
      `${r.fds.start} / ${r.fds.end} (slack ${FD_SLACK}; ready labs ${r.pool.start} / ${r.pool.end} of ${r.pool.full})${r.fdGrowth.size ? `; more at the end: ${fmtMap(r.fdGrowth)}` : ''}`,
    ],
    ['spawners seen', String(r.spawners)],
    ['agent warnings', fmtMap(r.agentWarnings)],
    ...r.agentErrors.map((e, i): [string, string] => [i ? '' : 'agent errors (first)', e]),
    ['labs open at the end', String(r.labsLeftOpen)],
    ['leftovers', r.leftovers.length ? r.leftovers.join('; ') : 'none'],
    ['result', r.problems.length ? `FAIL: ${r.problems.join(' | ')}` : 'PASS'],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

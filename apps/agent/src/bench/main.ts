// `npm run bench`: speed and memory of labs and panes, each figure beside a baseline measured in
// the same run. `--json` prints one JSON object on one line. Medians and percentiles, never
// single runs: these machines are shared and noisy. Seven groups: `labs` (opening labs, spawning
// panes, exec, limits; ./open.ts), `stream` (terminal streaming, ./stream.ts), `load` (N learners
// at once, ./load.ts), `portal` (./portal.ts), `router` (the same agent through the router and
// directly, ./router.ts), `cluster` (several agents on one PostgreSQL behind the router, many
// learners each at once, ./cluster.ts) and `soak` (learners and chaos for minutes, ./soak/);
// `--only stream` runs one.
//
// The bench never stops half-way: a workload that stalls is a figure (`stalls`: whose, what, how
// many bytes), an unexpected error in one group is reported and the next group runs; the exit
// code says whether anything stalled or failed. The agents it starts die with it, even when it
// is killed with SIGKILL (./child.ts).
import { spawnSync, execFileSync } from 'node:child_process';
import { BUILDER_LESSON, LESSON_IDS, NAMESPACE_TYPES } from '@nslab/shared';
import { loadConfig } from '../config.js';
import { startAgent, type RunningAgent } from '../server/agent.js';
import { spawnStats, type Lab } from '../sandbox/lab.js';
import type { Pane } from '../sandbox/pane.js';
import { checkHost } from '../preflight.js';
import { AgentClient } from '../cli/client.js';
import { ExecResult } from '@nslab/shared';
import { pct, round, rssMb, section, sleep, type Findings, type Metric } from './util.js';
import { runStreamBench } from './stream.js';
import { runLoadBench } from './load.js';
import { runOpenToPrompts } from './open.js';
import { runSoakGroup } from './soak/group.js';
import { runPortalBench } from './portal.js';
import { runRouterBench } from './router.js';
import { runClusterBench } from './cluster.js';
import { stopAllChildren } from './child.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const OPENS = opt('opens', 40);
const PANE_SPAWNS = opt('pane-spawns', 60);
const STRESS_SPAWNS = opt('spawns', 10_000);
const MAX_LABS = opt('max-labs', 256);
const GROUPS = ['labs', 'stream', 'load', 'portal', 'router', 'cluster', 'soak'] as const;
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? (args[onlyAt + 1] ?? '').split(',') : [...GROUPS];
for (const g of only) if (!(GROUPS as readonly string[]).includes(g)) throw new Error(`--only: unknown group "${g}" (groups: ${GROUPS.join(', ')})`);
const say = (msg: string) => {
  if (!json) process.stderr.write(msg + '\n');
  else process.stderr.write('.');
};
const findings: Findings = { stalls: [], errors: [] };

/** Time a command, median over n runs (ms). */
function timeCommand(cmd: string, argv: string[], n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, argv, { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status ?? r.signal}): is it installed?`);
    out.push(performance.now() - t0);
  }
  return out;
}

function ensureBwrap() {
  if (spawnSync('bwrap', ['--version']).status === 0) return;
  say('installing bubblewrap for the baseline...');
  execFileSync('apt-get', ['install', '-y', '-qq', 'bubblewrap'], { stdio: 'ignore' });
}

/**
 * Until every pane has printed (its prompt); ms from `t0`. A pane started ahead of time (a warm
 * lab's) printed before the lab was opened: then the lab is ready when `open` returned (`opened`).
 */
async function waitFirstOutput(panes: Pane[], t0: number, timeoutMs = 10_000, opened = t0): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (panes.some((p) => p.firstOutputAt === null)) {
    if (Date.now() > deadline) throw new Error('no prompt within the deadline');
    await sleep(1);
  }
  return Math.max(opened, ...panes.map((p) => p.firstOutputAt!)) - t0;
}

/** Labs and panes, with the agent in this process; then opening labs as a learner sees it. */
async function labsGroup(metrics: Metric[]) {
  const bwrap: number[] = [];
  await section(findings, 'labs', say, () => labsInProcess(metrics, bwrap));
  // As a learner sees it: request to both prompts at a WebSocket client, the agent in its own process.
  if (bwrap.length) {
    await section(findings, 'labs/open-to-prompts', say, async () => {
      metrics.push(...(await runOpenToPrompts({ opens: OPENS, bwrap, say })));
    });
  }
}

async function labsInProcess(metrics: Metric[], bwrap: number[]) {
  // Instance and id range of the bench's own: far from those the tests use.
  const agent: RunningAgent = await startAgent(
    loadConfig({ instance: 'nslabbench', stateDir: '/run/nslabbench', idBase: 400_000_000, port: 0, web: false, maxLabs: MAX_LABS + 8, warmLabs: 2 }),
    { quiet: true },
  );
  const m = agent.manager;
  try {
    // --- lab open: request to every pane's first prompt byte -----------------------------------
    // Warm: what a learner waits for (a lab from the pool, then its panes). Cold: a lab made from
    // nothing (the pool empty), the figure comparable to bwrap, which also starts from nothing.
    ensureBwrap();
    bwrap.push(...timeCommand('bwrap', ['--unshare-all', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', 'true'], OPENS));
    const openOnce = async (i: number) => {
      const lesson = LESSON_IDS[i % LESSON_IDS.length]!;
      const t0 = performance.now();
      const lab = await m.open(lesson);
      const ms = await waitFirstOutput([...lab.panes.values()], t0, 10_000, performance.now());
      await m.close(lab.id);
      return ms;
    };
    say(`lab open (warm pool) x${OPENS}...`);
    const warm: number[] = [];
    for (let i = 0; i < OPENS; i++) {
      while (m.warmCount < m.config.warmLabs) await sleep(2);
      warm.push(await openOnce(i));
    }
    say(`lab open (cold) x${OPENS}...`);
    // Empty every pool (bare labs, and each lesson's prepared ones), and keep them empty.
    m.config.warmLabs = 0;
    m.config.warmPerLesson = 0;
    while (m.warmCount > 0) {
      const lesson = m.catalogue.ids().find((id) => m.readyCount(id) > 0) ?? LESSON_IDS[0];
      await m.close((await m.open(lesson)).id);
    }
    const cold: number[] = [];
    for (let i = 0; i < OPENS; i++) cold.push(await openOnce(i));
    metrics.push({ name: 'lab_open_ms_p50', value: round(pct(warm, 50)), unit: 'ms', baseline: 'bwrap', baseline_value: round(pct(bwrap, 50)) });
    metrics.push({ name: 'lab_open_ms_p99', value: round(pct(warm, 99)), unit: 'ms', baseline: 'bwrap', baseline_value: round(pct(bwrap, 99)) });
    metrics.push({ name: 'lab_open_cold_ms_p50', value: round(pct(cold, 50)), unit: 'ms', baseline: 'bwrap', baseline_value: round(pct(bwrap, 50)) });
    metrics.push({ name: 'lab_open_cold_ms_p99', value: round(pct(cold, 99)), unit: 'ms', baseline: 'bwrap', baseline_value: round(pct(bwrap, 99)) });

    // --- pane spawn: a new shell in a lab with its own namespace, to its first byte ---------------
    say(`pane spawn x${PANE_SPAWNS}...`);
    const lab = await m.open('pid');
    const pane = lab.pane('container')!;
    const spawns: number[] = [];
    for (let i = 0; i < PANE_SPAWNS; i++) {
      const t0 = performance.now();
      await lab.startPane(pane);
      spawns.push(await waitFirstOutput([pane], t0));
    }
    const unshare = timeCommand(
      'unshare',
      ['--user', '--map-root-user', '--mount', '--uts', '--ipc', '--net', '--pid', '--fork', '--cgroup', '--time', 'true'],
      PANE_SPAWNS,
    );
    metrics.push({ name: 'pane_spawn_ms_p50', value: round(pct(spawns, 50)), unit: 'ms', baseline: 'unshare(1)', baseline_value: round(pct(unshare, 50)) });
    metrics.push({ name: 'pane_spawn_ms_p99', value: round(pct(spawns, 99)), unit: 'ms', baseline: 'unshare(1)', baseline_value: round(pct(unshare, 99)) });

    // --- builder panes: every type, and nested inside another, to the first byte ------------------
    say(`builder panes x${PANE_SPAWNS}...`);
    const builder = await m.open(BUILDER_LESSON.id);
    const all = { name: 'all', unshare: [...NAMESPACE_TYPES], built: { mapUser: true, mountProc: true } };
    const built: number[] = [];
    const nested: number[] = [];
    for (let i = 0; i < PANE_SPAWNS; i++) {
      let t0 = performance.now();
      const outer = await builder.addPane(all);
      built.push(await waitFirstOutput([outer], t0));
      t0 = performance.now();
      const inner = await builder.addPane({ name: 'inner', unshare: ['uts', 'ipc'], built: { parent: 'all', mapUser: false, mountProc: false } });
      nested.push(await waitFirstOutput([inner], t0));
      await builder.removePane('all');
    }
    const outerPid = (await builder.addPane(all)).pid!;
    const nestedUnshare = timeCommand('nsenter', ['-t', String(outerPid), '--all', '-S', '0', '-G', '0', 'unshare', '--uts', '--ipc', 'true'], PANE_SPAWNS);
    await m.close(builder.id);
    metrics.push({ name: 'builder_pane_ms_p50', value: round(pct(built, 50)), unit: 'ms', baseline: 'unshare(1)', baseline_value: round(pct(unshare, 50)) });
    metrics.push({
      name: 'builder_nested_pane_ms_p50',
      value: round(pct(nested, 50)),
      unit: 'ms',
      baseline: 'nsenter(1) + unshare(1)',
      baseline_value: round(pct(nestedUnshare, 50)),
    });

    // --- exec round trip over the WebSocket -----------------------------------------------------
    say('exec round trip...');
    const wsUrl = agent.url.replace(/^http/, 'ws') + '/api/ws';
    const client = await AgentClient.connect({ wsUrl, displayUrl: agent.url, token: agent.token });
    const rt: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      const r = ExecResult.parse(await client.request({ type: 'exec', lab: lab.id, pane: 'host', argv: ['true'] }));
      if (r.exitCode !== 0) throw new Error(`exec failed: ${JSON.stringify(r)}`);
      rt.push(performance.now() - t0);
    }
    const nsenter = timeCommand('nsenter', ['-t', String(lab.pane('host')!.pid), '--all', 'true'], 100);
    metrics.push({
      name: 'exec_roundtrip_ms_p50',
      value: round(pct(rt, 50)),
      unit: 'ms',
      baseline: 'nsenter(1) --all',
      baseline_value: round(pct(nsenter, 50)),
    });
    await client.close();
    await m.close(lab.id);

    // --- spawn failures under load: pane spawns while other labs stream output -------------------
    say(`spawn failures over ${STRESS_SPAWNS} pane spawns while two labs stream output...`);
    const streamers: Lab[] = [await m.open('uts'), await m.open('uts')];
    let streamed = 0;
    for (const s of streamers) {
      const p = s.pane('host')!;
      p.on('data', (d) => (streamed += d.length));
      p.write('while :; do seq 1 2000; done\n');
    }
    const workers = await Promise.all([m.open('pid'), m.open('uts'), m.open('user'), m.open('net')]);
    let failures = 0;
    let done = 0;
    const failureReasons = new Map<string, number>();
    const perWorker = Math.ceil(STRESS_SPAWNS / workers.length);
    const tStress = performance.now();
    await Promise.all(
      workers.map(async (w) => {
        const p = w.pane('container')!;
        for (let i = 0; i < perWorker && done < STRESS_SPAWNS; i++) {
          done++;
          const t0 = performance.now();
          try {
            await w.startPane(p);
            await waitFirstOutput([p], t0, 10_000);
          } catch (err) {
            failures++;
            const k = (err as Error).message.slice(0, 80);
            failureReasons.set(k, (failureReasons.get(k) ?? 0) + 1);
          }
          if (!json && done % 1000 === 0) say(`  ${done} spawns, ${failures} failures, ${(streamed / 1e6).toFixed(0)} MB streamed`);
        }
      }),
    );
    const stressSeconds = (performance.now() - tStress) / 1000;
    metrics.push({ name: 'spawn_failures', value: failures, unit: 'count' });
    metrics.push({ name: 'spawn_retries', value: spawnStats.retries, unit: 'count' });
    metrics.push({ name: 'spawns_per_s_under_load', value: round(done / stressSeconds), unit: '1/s' });
    if (failures) say(`failures: ${JSON.stringify([...failureReasons])}`);
    for (const l of [...streamers, ...workers]) await m.close(l.id);

    // --- labs open at once, and agent memory per lab --------------------------------------------
    say(`labs open at once (up to ${MAX_LABS})...`);
    await sleep(200);
    const spawnerPid = m.spawner.pid!;
    global.gc?.();
    const rss0 = rssMb('self') + rssMb(spawnerPid);
    const open: Lab[] = [];
    let stopReason = `reached the bench's cap of ${MAX_LABS}`;
    try {
      while (open.length < MAX_LABS) open.push(await m.open('uts'));
    } catch (err) {
      stopReason = (err as Error).message;
    }
    await sleep(200);
    const rss1 = rssMb('self') + rssMb(spawnerPid);
    metrics.push({ name: 'labs_open_max', value: open.length, unit: 'labs' });
    metrics.push({ name: 'agent_rss_mb_per_lab', value: round((rss1 - rss0) / Math.max(1, open.length)), unit: 'MB' });
    const labMem = open.map((l) => l.cgroup?.memoryBytes() ?? null).filter((x): x is number => x !== null);
    if (labMem.length) metrics.push({ name: 'lab_memory_mb_p50', value: round(pct(labMem, 50) / 2 ** 20), unit: 'MB' });
    say(`  ${open.length} labs open (${stopReason}); agent+spawner RSS ${rss0.toFixed(0)} -> ${rss1.toFixed(0)} MB`);
    const tClose = performance.now();
    await Promise.all(open.map((l) => m.close(l.id)));
    metrics.push({ name: 'lab_close_ms_mean', value: round((performance.now() - tClose) / Math.max(1, open.length)), unit: 'ms' });
  } finally {
    await agent.close();
  }
}

async function main() {
  const problem = checkHost();
  if (problem) throw new Error(problem);
  const metrics: Metric[] = [];
  const groups: Record<(typeof GROUPS)[number], () => Promise<void>> = {
    labs: () => labsGroup(metrics),
    stream: async () => {
      metrics.push(
        ...(await runStreamBench({
          lines: opt('lines', 500_000),
          rounds: opt('rounds', 5),
          echoes: opt('echoes', 300),
          ctrlCRuns: opt('ctrl-c-runs', 5),
          replays: opt('replays', 20),
          floodS: opt('flood-s', 60),
          unattended: opt('unattended', 20),
          profileDir: args.includes('--profile-agent') ? args[args.indexOf('--profile-agent') + 1] : undefined,
          say,
          findings,
        })),
      );
    },
    load: async () => {
      metrics.push(
        ...(await runLoadBench({
          learners: opt('learners', 50),
          profileDir: args.includes('--profile-agent') ? args[args.indexOf('--profile-agent') + 1] : undefined,
          say,
        })),
      );
    },
    portal: async () => {
      metrics.push(...(await runPortalBench({ runs: opt('portal-runs', 100), say })));
    },
    router: async () => {
      metrics.push(
        ...(await runRouterBench({
          opens: opt('router-opens', 30),
          echoes: opt('router-echoes', 200),
          rounds: opt('router-rounds', 5),
          connections: opt('router-connections', 300),
          say,
        })),
      );
    },
    cluster: async () => {
      metrics.push(...(await runClusterBench({ agents: opt('cluster-agents', 3), learners: opt('cluster-learners', 50), say })));
    },
    soak: async () => {
      metrics.push(...(await runSoakGroup({ seconds: opt('soak-minutes', 3) * 60, baselineSeconds: opt('soak-baseline-minutes', 1) * 60, say, findings })));
    },
  };
  for (const g of GROUPS) {
    if (!only.includes(g)) continue;
    await section(findings, g, say, groups[g]);
    // Whatever a failed group left running goes before the next starts.
    await stopAllChildren();
  }

  metrics.push({ name: 'stalls', value: findings.stalls.length, unit: 'count' });
  if (json) {
    process.stderr.write('\n');
    process.stdout.write(JSON.stringify({ metrics, stalls: findings.stalls, errors: findings.errors }) + '\n');
  } else {
    const rows = metrics.map((x) => [
      x.name,
      `${x.value} ${x.unit}`,
      x.baseline ?? '',
      x.baseline_value !== undefined ? `${x.baseline_value} ${x.unit}` : '',
      x.baseline_value ? `${round(x.value / x.baseline_value)}x` : '',
    ]);
    const head = ['metric', 'nslab', 'baseline', 'baseline value', 'ratio'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
    console.log(line(head));
    console.log(widths.map((w) => '-'.repeat(w)).join('  '));
    for (const r of rows) console.log(line(r));
    for (const st of findings.stalls) console.log(`stall: ${st.who}: ${st.what}: nothing within ${Math.round(st.ms)} ms (${st.bytes} bytes so far)`);
    for (const e of findings.errors) console.log(`error: ${e}`);
  }
  process.exit(findings.stalls.length || findings.errors.length ? 1 : 0);
}

// A promise nobody awaited must not end the run half-way (and leave its agents behind): it is
// reported, counted as an error, and the run goes on.
process.on('unhandledRejection', (err) => {
  const e = err as Error;
  findings.errors.push(`unhandled rejection: ${e?.message ?? String(err)}`);
  process.stderr.write(`bench: unhandled rejection: ${e?.stack ?? String(err)}\n`);
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`bench: ${sig}, stopping the agents it started...\n`);
    void stopAllChildren().finally(() => process.exit(130));
  });
}

main().catch(async (err) => {
  process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
  await stopAllChildren();
  process.exit(1);
});

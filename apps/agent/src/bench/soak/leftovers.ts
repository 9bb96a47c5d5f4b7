// What an agent left on the host after it stopped: processes in its labs' uid ranges, in its
// cgroups (whatever their uid) and its own spawners; mounts under its state directory, its cgroup
// directories, lab staging directories.
// Id ranges an agent could not release say so in its log ("its id range stays reserved").
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Cgroups } from '../../sandbox/cgroup.js';
import { IdRanges } from '../../sandbox/idrange.js';
import { labProcesses } from '../../sandbox/sweep.js';
import { processStatus } from '../../inspect/ns.js';
import { sleep } from '../util.js';

export interface AgentFootprint {
  instance: string;
  stateDir: string;
  idBase: number;
  idsPerLab: number;
  maxLabs: number;
  /** The agent and every spawner it had. */
  pids: number[];
}

function describe(pid: number): string {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean).join(' ');
    return `pid ${pid} uid ${processStatus(pid)?.uid ?? '?'} (${argv.slice(0, 60)})`;
  } catch {
    return `pid ${pid}`;
  }
}

/** Pids in a cgroup directory and those below it. */
function cgroupPids(dir: string): number[] {
  const out: number[] = [];
  try {
    for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (p) out.push(Number(p));
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...cgroupPids(join(dir, e.name)));
  } catch {
    /* removed meanwhile */
  }
  return out;
}

function find(f: AgentFootprint): string[] {
  const out: string[] = [];
  for (const pid of labProcesses(new IdRanges(f.idBase, f.idsPerLab, f.maxLabs))) out.push(`process in the labs' id ranges: ${describe(pid)}`);
  for (const pid of f.pids) {
    const st = processStatus(pid);
    let argv = '';
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    } catch {
      continue;
    }
    // The same pid, not a later process that was given it.
    if (st && !st.zombie && /nslab-spawner|main\.cjs/.test(argv)) out.push(`the agent's own process still running: ${describe(pid)}`);
  }
  const prefix = f.stateDir.replace(/\/$/, '') + '/';
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mount = line.split(' ')[4];
    if (mount && (mount === f.stateDir || mount.startsWith(prefix))) out.push(`mount: ${mount}`);
  }
  const inCgroups = new Set<number>();
  for (const h of Cgroups.detect(f.instance).hierarchies) {
    const dir = join(h.mount, f.instance);
    if (!existsSync(dir)) continue;
    const labs = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).length;
    out.push(`cgroup: ${dir} (${labs} lab cgroups in it)`);
    for (const pid of cgroupPids(dir)) inCgroups.add(pid);
  }
  // Whatever keeps a cgroup busy, whoever it runs as (a set-up process runs as host root).
  for (const pid of inCgroups) out.push(`process in the agent's cgroups: ${describe(pid)}`);
  const labsDir = join(f.stateDir, 'labs');
  if (existsSync(labsDir)) for (const name of readdirSync(labsDir)) out.push(`state directory: ${join(labsDir, name)}`);
  return out;
}

/** Leftovers, looked for again for a few seconds (the kernel reaps a killed lab in a moment). */
export async function leftovers(f: AgentFootprint, settleMs = 5_000): Promise<string[]> {
  const deadline = performance.now() + settleMs;
  for (;;) {
    const found = find(f);
    if (!found.length || performance.now() > deadline) return found;
    await sleep(200);
  }
}

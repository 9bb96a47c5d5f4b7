// Start-up clean-up: whatever an earlier run of this agent left (it may have been SIGKILLed):
// lab processes, lab cgroups, host-side mounts under the state directory, staging directories.
import { readdirSync, readFileSync, rmdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentConfig } from '../config.js';
import type { Cgroups } from './cgroup.js';
import type { IdRanges } from './idrange.js';
import { sys } from '../native/sys.js';
import { MNT_DETACH } from '../native/constants.js';
import { processStatus } from '../inspect/ns.js';

export interface SweepReport {
  processes: number;
  cgroups: number;
  mounts: number;
  dirs: number;
}

/** Host pids, zombies aside, whose real uid lies in this agent's lab id ranges. */
export function labProcesses(ids: IdRanges): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = processStatus(name);
    if (st && ids.contains(st.uid) && !st.zombie) out.push(Number(name));
  }
  return out;
}

export function sweepLeftovers(config: AgentConfig, cgroups: Cgroups, ids: IdRanges): SweepReport {
  const report: SweepReport = { processes: 0, cgroups: 0, mounts: 0, dirs: 0 };
  const deadline = Date.now() + 10_000;
  // 1. Processes: by cgroup, then by uid (covers a host without usable cgroups).
  for (;;) {
    let killed = 0;
    for (const cg of cgroups.leftovers()) killed += cg.killAll();
    for (const pid of labProcesses(ids)) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        /* gone */
      }
    }
    report.processes += killed;
    if (killed === 0 || Date.now() > deadline) break;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
  // 2. Cgroups.
  for (const cg of cgroups.leftovers()) {
    for (let i = 0; i < 200; i++) {
      try {
        cg.remove();
        report.cgroups++;
        break;
      } catch {
        cg.killAll();
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
  }
  // 3. Host-side mounts under the state directory (labs mount in their own namespaces, so
  //    these exist only if something went wrong).
  const prefix = config.stateDir.replace(/\/$/, '') + '/';
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => !!m && m.startsWith(prefix))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      sys.umount2(m, MNT_DETACH);
      report.mounts++;
    } catch {
      /* already gone */
    }
  }
  // 4. Staging directories.
  const labsDir = join(config.stateDir, 'labs');
  if (existsSync(labsDir)) {
    for (const name of readdirSync(labsDir)) {
      try {
        rmdirSync(join(labsDir, name));
        report.dirs++;
      } catch {
        /* not empty or gone */
      }
    }
  }
  return report;
}

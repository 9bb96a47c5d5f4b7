// The soak's chaos loop: while the learners work, every few seconds one fault, and a check that
// it ended in a clear message to whoever it hit:
// - kill-spawner: SIGKILL to the agent's spawner (its child running spawner.cjs). Every lab dies
//   with it; each attached learner must get lab-closed, and the agent must start a new spawner.
//   At most once per 30 s: an agent whose spawner dies 4 times within a minute pauses before the next.
// - kill-init: SIGKILL to PID 1 of a learner's lab (the process named nslab-init running as the
//   lab's root uid). Its learner must get lab-closed, and the lab must leave the agent's list.
// - fill-disk: `dd` to /root until the lab's disk is full (a learner's lab or the chaos's own),
//   held a moment, then removed: dd must say "No space left on device".
// - fill-memory: a shell that grows past the lab's memory limit (the chaos's own lab): the
//   kernel kills it, and the lab's panes must say the lab hit its memory limit.
// - cpu-hog: three busy loops for 6 s in the chaos's own lab.
// Nothing here waits without a bound; the loop stops by itself at the deadline.
import { readFileSync, readdirSync } from 'node:fs';
import { FRAME_OUTPUT, type LabInfo } from '@nslab/shared';
import type { AgentClient } from '../../cli/client.js';
import { processStatus } from '../../inspect/ns.js';
import { sleep } from '../util.js';
import type { ChildAgent } from '../child.js';
import type { SoakStats } from './stats.js';

/** Between two spawner kills (the agent pauses before restarting a spawner that died 4 times within a minute). */
const SPAWNER_KILL_EVERY_MS = 30_000;

interface Exec {
  exitCode: number | null;
  signal: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

const text = (b64: string) => Buffer.from(b64, 'base64').toString();

/** The host pid of a lab's PID 1: named nslab-init, running as the lab's root. */
export function findLabInit(uidBase: number): number | null {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv0 = readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0')[0];
      if (argv0 !== 'nslab-init') continue;
    } catch {
      continue;
    }
    const st = processStatus(name);
    if (st && !st.zombie && st.uid === uidBase) return Number(name);
  }
  return null;
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

export class Chaos {
  private client: AgentClient | null = null;
  /** The chaos's own lab (the token holder's): where it runs memory and CPU hogs. */
  private own: string | null = null;
  private ownText = '';
  private lastSpawnerKill = -Infinity;
  /** Every spawner pid seen: none may survive the agent. */
  readonly spawnerPids = new Set<number>();
  actions = 0;

  constructor(
    private readonly agent: ChildAgent,
    private readonly stats: SoakStats,
    private readonly rand: () => number,
  ) {}

  private async healthz(): Promise<{ spawner: number | null }> {
    const res = await fetch(`${this.agent.url}/healthz`);
    return (await res.json()) as { spawner: number | null };
  }

  /** The spawner's pid, from the agent's /healthz, checked against the process table. */
  async spawnerPid(): Promise<number | null> {
    const pid = (await this.healthz()).spawner;
    if (!pid || parentOf(pid) !== this.agent.pid) return null;
    this.spawnerPids.add(pid);
    return pid;
  }

  private async connect(): Promise<AgentClient> {
    if (this.client?.isOpen) return this.client;
    this.client = await this.agent.connect();
    this.client.onFrame((f) => {
      if (f.op !== FRAME_OUTPUT || f.key !== `${this.own}/host`) return;
      this.ownText = (this.ownText + Buffer.from(f.payload).toString('latin1')).slice(-16_384);
      this.client?.notify({ type: 'ack', lab: this.own!, pane: 'host', offset: f.offset + f.payload.length });
    });
    this.client.onEvent((e) => {
      if (e.type === 'lab-closed' && e.lab === this.own) this.own = null;
    });
    return this.client;
  }

  /** The chaos's own lab, opened (again) when it has none. */
  private async ownLab(): Promise<string> {
    const c = await this.connect();
    if (this.own) return this.own;
    const lab = (await c.request({ type: 'open', lesson: 'cgroup' })) as LabInfo;
    this.own = lab.id;
    this.ownText = '';
    await c.request({ type: 'attach', lab: lab.id, pane: 'host', cols: 100, rows: 30 });
    return lab.id;
  }

  private async exec(lab: string, script: string, timeoutMs = 60_000): Promise<Exec> {
    const c = await this.connect();
    return (await c.request({ type: 'exec', lab, pane: 'host', argv: ['/bin/sh', '-c', script], timeoutMs }, { timeoutMs: timeoutMs + 15_000 })) as Exec;
  }

  private async labs(): Promise<LabInfo[]> {
    const c = await this.connect();
    return ((await c.request({ type: 'list' })) as LabInfo[]).filter((l) => l.id !== this.own);
  }

  async run(deadline: number, startAfterMs = 5_000) {
    const t0 = performance.now();
    await sleep(Math.min(startAfterMs, Math.max(0, deadline - performance.now())));
    await this.spawnerPid().catch(() => null);
    let deck: string[] = [];
    while (performance.now() < deadline && this.actions < 10_000) {
      const left = deadline - performance.now();
      const sinceKill = performance.now() - this.lastSpawnerKill;
      let action: string;
      // The spawner once early, then every 30 s, never close to the end (its recovery is checked);
      // the other faults dealt from a shuffled deck, so that a short run has each of them.
      if (sinceKill >= SPAWNER_KILL_EVERY_MS && performance.now() - t0 >= 12_000 && left > 12_000) action = 'kill-spawner';
      else {
        if (!deck.length) deck = this.shuffle(['kill-init', 'fill-disk', 'fill-memory', 'cpu-hog']);
        action = deck.pop()!;
      }
      this.actions++;
      try {
        await this.act(action);
      } catch (err) {
        // The fault's own target went away meanwhile (another fault closed it): not a finding.
        this.stats.chaosAction(action, { failed: (err as Error).message });
      }
      await sleep(Math.min(1000 + this.rand() * 3000, Math.max(0, deadline - performance.now())));
    }
    if (this.own) await this.client?.request({ type: 'close', lab: this.own }).catch(() => {});
    await this.client?.close();
  }

  private shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.rand() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }

  private async act(action: string) {
    switch (action) {
      case 'kill-spawner':
        return this.killSpawner();
      case 'kill-init':
        return this.killInit();
      case 'fill-disk':
        return this.fillDisk();
      case 'fill-memory':
        return this.fillMemory();
      case 'cpu-hog':
        return this.cpuHog();
    }
  }

  private async killSpawner() {
    const pid = await this.spawnerPid();
    if (!pid) throw new Error('no spawner to kill (it is being replaced)');
    this.lastSpawnerKill = performance.now();
    process.kill(pid, 'SIGKILL');
    const deadline = performance.now() + 20_000;
    for (;;) {
      const now = await this.spawnerPid().catch(() => null);
      if (now && now !== pid) break;
      if (performance.now() > deadline) {
        this.stats.chaosProblems.push(`the spawner (pid ${pid}) was killed and no new one came within 20 s`);
        return;
      }
      await sleep(100);
    }
    this.own = null;
    this.stats.chaosAction('kill-spawner', 'done');
  }

  private async killInit() {
    const labs = await this.labs();
    if (!labs.length) throw new Error('no learner lab open');
    const lab = labs[Math.floor(this.rand() * labs.length)]!;
    const pid = findLabInit(lab.uidBase);
    if (!pid) throw new Error(`no init found for lab ${lab.id}`);
    process.kill(pid, 'SIGKILL');
    const deadline = performance.now() + 15_000;
    while ((await this.labs()).some((l) => l.id === lab.id)) {
      if (performance.now() > deadline) {
        this.stats.chaosProblems.push(`lab ${lab.id}: its init (pid ${pid}) was killed, and it was still open 15 s later`);
        return;
      }
      await sleep(100);
    }
    this.stats.chaosAction('kill-init', 'done');
  }

  private async fillDisk() {
    // Half the time a learner's lab: its learner must not notice.
    const learners = await this.labs();
    const lab = this.rand() < 0.5 && learners.length ? learners[Math.floor(this.rand() * learners.length)]!.id : await this.ownLab();
    const r = await this.exec(lab, 'dd if=/dev/zero of=/root/.soak-fill bs=1M count=4096; st=$?; sleep 2; rm -f /root/.soak-fill; exit $st');
    const err = text(r.stderr);
    if (r.exitCode !== 0 && /No space left on device/.test(err)) this.stats.chaosAction('fill-disk', 'told');
    else if (r.exitCode === 0) this.stats.chaosProblems.push(`fill-disk: dd wrote 4 GiB to a lab's /root without filling it`);
    else throw new Error(`dd: exit ${r.exitCode ?? `signal ${r.signal}`}: ${err.trim().split('\n').pop()}`);
  }

  private async fillMemory() {
    const lab = await this.ownLab();
    this.ownText = '';
    const r = await this.exec(lab, `x=$(head -c 900M /dev/zero | tr '\\0' a); echo survived \${#x}`);
    if (text(r.stdout).includes('survived')) {
      this.stats.chaosProblems.push('fill-memory: a shell held 900 MB in a lab limited to less');
      return;
    }
    // The agent tells the lab's panes within a second or two.
    const deadline = performance.now() + 10_000;
    while (!/hit its memory limit/.test(this.ownText)) {
      if (!this.own) throw new Error('the chaos lab closed meanwhile');
      if (performance.now() > deadline) {
        this.stats.chaosProblems.push(
          `fill-memory: the kernel killed the hog (${r.signal ? `signal ${r.signal}` : `exit ${r.exitCode}`}) and the lab's pane did not say why within 10 s`,
        );
        return;
      }
      await sleep(100);
    }
    this.stats.chaosAction('fill-memory', 'told');
  }

  private async cpuHog() {
    const lab = await this.ownLab();
    const r = await this.exec(lab, 'for i in 1 2 3; do timeout 6 sh -c "while :; do :; done" & done; wait');
    if (r.timedOut) throw new Error('the CPU hog outlived its timeout');
    this.stats.chaosAction('cpu-hog', 'done');
  }
}

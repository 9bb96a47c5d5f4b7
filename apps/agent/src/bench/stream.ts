import { FLOW_HIGH_BYTES, LabInfo } from '@nslab/shared';
import type { AgentClient } from '../cli/client.js';
import { cpuSeconds, median, pct, round, rssMb, section, sleep, type Findings, type Metric } from './util.js';
import { startChildAgent, startPeer, type Child, type ChildAgent } from './child.js';

export { startChildAgent, type ChildAgent } from './child.js';

export interface StreamOptions {
  /** Lines the throughput workload prints (a text file's worth, written in large blocks as `cat` does). */
  lines: number;
  /** Throughput runs per contender (raw, agent, peer), interleaved. */
  rounds: number;
  /** Keystrokes timed per contender. */
  echoes: number;
  /** Ctrl-C runs per contender. */
  ctrlCRuns: number;
  /** Reconnects timed per screen. */
  replays: number;
  /** How long the flood lasts (s). */
  floodS: number;
  /** Labs left running `yes` with nobody attached, next to a learner who types. */
  unattended: number;
  /** Write a CPU profile of the agent into this directory (where does its time go?). */
  profileDir?: string;
  say: (msg: string) => void;
  /** Stalls and errors go here; the group goes on. */
  findings: Findings;
}

import { CTRL_C_BOUND_MS, ECHO_MARK, LINE, MARK, PROMPT, PaneTerm, PeerTerm, type Term, now, ready } from './stream/terms.js';
import { type Rate, ctrlCStop, echoLatency, mbPerS, rawWorkload, typedWorkload } from './stream/workloads.js';

/** Close whatever a part opened, even when it failed half-way. */
class Scope {
  private readonly terms: Term[] = [];
  private readonly labs: string[] = [];
  constructor(
    private readonly agent: ChildAgent,
    private readonly boot: AgentClient,
  ) {}

  async lab(lesson = 'uts'): Promise<string> {
    const id = LabInfo.parse(await this.boot.request({ type: 'open', lesson })).id;
    this.labs.push(id);
    return id;
  }

  async pane(lab: string, pane: string, ack = true): Promise<PaneTerm> {
    const t = await PaneTerm.open(this.agent, lab, pane, ack);
    this.terms.push(t);
    await ready(t);
    return t;
  }

  async peer(url: string): Promise<PeerTerm> {
    const t = await PeerTerm.open(url);
    this.terms.push(t);
    await ready(t);
    return t;
  }

  async close() {
    await Promise.allSettled(this.terms.map((t) => t.close()));
    await Promise.allSettled(this.labs.map((lab) => this.boot.request({ type: 'close', lab })));
  }
}

export async function runStreamBench(o: StreamOptions): Promise<Metric[]> {
  const metrics: Metric[] = [];
  const workload = `yes '${LINE}' | head -n ${o.lines}`;
  o.say('starting an agent and the peer server as child processes...');
  const agent = await startChildAgent(o.profileDir, { NSLAB_MAX_LABS: String(Math.max(16, o.unattended + 8)) });
  let peer: (Child & { url: string }) | null = null;
  let boot: AgentClient | null = null;
  const part = async (name: string, fn: (s: Scope) => Promise<void>) => {
    const s = new Scope(agent, boot!);
    await section(o.findings, `stream/${name}`, o.say, () => fn(s));
    await s.close();
  };
  try {
    peer = await startPeer();
    boot = await agent.connect();

    // --- throughput: the same workload raw, through the agent, through the peer --------------
    await part('throughput', async (s) => {
      o.say(`throughput: \`${workload}\` x${o.rounds} each, raw PTY / agent / peer interleaved...`);
      const nsT = await s.pane(await s.lab(), 'host');
      const peerT = await s.peer(peer!.url);
      const raw: Rate[] = [];
      const ns: Rate[] = [];
      const pr: Rate[] = [];
      // One untimed run each first: page cache, JIT, the shells' first fork of seq.
      await rawWorkload(workload);
      await typedWorkload(nsT, workload);
      await typedWorkload(peerT, workload);
      for (let i = 0; i < o.rounds; i++) {
        raw.push(await rawWorkload(workload));
        ns.push(await typedWorkload(nsT, workload));
        pr.push(await typedWorkload(peerT, workload));
      }
      const show = (rs: Rate[]) => rs.map((r) => mbPerS(r).toFixed(0)).join(' ');
      const size = (rs: Rate[]) => `${(median(rs.map((r) => r.bytes / r.chunks)) / 1024).toFixed(1)} KiB`;
      o.say(`  raw ${show(raw)} | agent ${show(ns)} | peer ${show(pr)} MB/s (${(median(raw.map((r) => r.bytes)) / 1e6).toFixed(1)} MB a run)`);
      o.say(`  mean chunk: raw read ${size(raw)}, agent frame ${size(ns)}, peer message ${size(pr)}`);
      const rawMb = median(raw.map(mbPerS));
      const nsMb = median(ns.map(mbPerS));
      const peerMb = median(pr.map(mbPerS));
      metrics.push({ name: 'pty_to_ws_mb_s', value: round(nsMb), unit: 'MB/s', baseline: 'pty_raw_mb_s', baseline_value: round(rawMb) });
      metrics.push({ name: 'pty_to_ws_ratio', value: round(nsMb / rawMb), unit: 'x raw' });
      metrics.push({ name: 'peer_pty_to_ws_mb_s', value: round(peerMb), unit: 'MB/s', baseline: 'pty_raw_mb_s', baseline_value: round(rawMb) });
    });

    // --- keystroke echo -------------------------------------------------------------------------
    await part('echo', async (s) => {
      o.say(`echo latency x${o.echoes} each...`);
      const nsT = await s.pane(await s.lab(), 'host');
      const peerT = await s.peer(peer!.url);
      const nsEcho: number[] = [];
      const peerEcho: number[] = [];
      // In halves, alternating, so that a noisy moment does not land on one side only.
      for (const half of [0, 1]) {
        const n = half ? o.echoes - Math.floor(o.echoes / 2) : Math.floor(o.echoes / 2);
        nsEcho.push(...(await echoLatency(nsT, n)));
        peerEcho.push(...(await echoLatency(peerT, n)));
      }
      metrics.push({
        name: 'echo_latency_ms_p50',
        value: round(pct(nsEcho, 50)),
        unit: 'ms',
        baseline: 'peer (node-pty + ws)',
        baseline_value: round(pct(peerEcho, 50)),
      });
      metrics.push({
        name: 'echo_latency_ms_p99',
        value: round(pct(nsEcho, 99)),
        unit: 'ms',
        baseline: 'peer (node-pty + ws)',
        baseline_value: round(pct(peerEcho, 99)),
      });
    });

    // --- Ctrl-C during a flood ------------------------------------------------------------------
    await part('ctrl-c', async (s) => {
      o.say(`Ctrl-C during \`yes\` x${o.ctrlCRuns} each...`);
      const nsT = await s.pane(await s.lab(), 'host');
      const peerT = await s.peer(peer!.url);
      const nsStop: { ms: number; bytes: number }[] = [];
      const peerStop: { ms: number; bytes: number }[] = [];
      for (let i = 0; i < o.ctrlCRuns; i++) {
        nsStop.push(await ctrlCStop(nsT));
        peerStop.push(await ctrlCStop(peerT));
      }
      const stops = (xs: { ms: number; bytes: number }[]) =>
        `${xs.map((x) => x.ms.toFixed(0)).join(' ')} ms (${(median(xs.map((x) => x.bytes)) / 1024).toFixed(0)} KiB after Ctrl-C)`;
      o.say(`  agent ${stops(nsStop)} | peer ${stops(peerStop)}`);
      metrics.push({
        name: 'ctrl_c_stop_ms',
        value: round(median(nsStop.map((x) => x.ms))),
        unit: 'ms',
        baseline: 'peer (node-pty + ws)',
        baseline_value: round(median(peerStop.map((x) => x.ms))),
      });
    });

    // --- reconnect: attach on a fresh connection until the screen snapshot arrives ------------
    await part('replay', async (s) => {
      o.say(`reconnect replay x${o.replays} each (full screen and scrollback / empty screen)...`);
      const labR = await s.lab();
      const full = await s.pane(labR, 'host');
      const FILL = `awk 'BEGIN{for(i=1;i<=5000;i++) printf "\\033[3%dm%05d\\033[0m the quick brown fox jumps over the lazy dog %d\\n", i%8, i, i*i}'`;
      await typedWorkload(full, FILL);
      const empty = await s.pane(labR, 'container');
      const cleared = empty.tap.expect(PROMPT);
      empty.input('clear\r');
      await cleared;
      await empty.tap.quiet(100);
      const fullR: { ms: number; bytes: number }[] = [];
      const emptyR: { ms: number; bytes: number }[] = [];
      for (let i = 0; i < o.replays; i++) {
        fullR.push(await PaneTerm.timeReplay(agent, labR, 'host'));
        emptyR.push(await PaneTerm.timeReplay(agent, labR, 'container'));
      }
      const kib = (rs: { bytes: number }[]) => `${(median(rs.map((r) => r.bytes)) / 1024).toFixed(1)} KiB`;
      o.say(`  snapshot ${kib(fullR)} (full) / ${kib(emptyR)} (empty); the peer has no replay (a new connection gets a new shell)`);
      metrics.push({
        name: 'reconnect_replay_ms',
        value: round(median(fullR.map((r) => r.ms))),
        unit: 'ms',
        baseline: 'attach to an empty screen (peer: no replay)',
        baseline_value: round(median(emptyR.map((r) => r.ms))),
      });
    });

    // --- memory under flood ---------------------------------------------------------------------
    // `yes` in one pane to a client that acknowledges everything, and in another pane to a client
    // that never acknowledges: that one holds its pane for 5 s at most, then the pane is paced and
    // the client skipped once it is 2 MiB behind (docs/protocol.md, Flow control). So it never
    // sees the prompt after Ctrl-C; a fresh client attached afterwards must.
    await part('flood', async (s) => {
      o.say(`agent memory during a ${o.floodS} s flood (\`yes\` to an acking client, \`yes\` to one that never acks)...`);
      const labF = await s.lab();
      const acking = await s.pane(labF, 'host');
      const stalled = await s.pane(labF, 'container', false);
      const before: number[] = [];
      for (let i = 0; i < 5; i++) {
        before.push(rssMb(agent.pid));
        await sleep(200);
      }
      const samples: number[] = [];
      const b0 = acking.tap.bytes;
      const s0 = stalled.tap.bytes;
      const tF = now();
      acking.input('yes\r');
      stalled.input('yes\r');
      while (now() - tF < o.floodS * 1000) {
        samples.push(rssMb(agent.pid));
        await sleep(250);
      }
      const floodMb = (acking.tap.bytes - b0) / 1e6;
      const neverAckedKib = (stalled.tap.bytes - s0) / 1024;
      const back = acking.tap.expect(PROMPT, CTRL_C_BOUND_MS);
      acking.input('\x03');
      stalled.input('\x03');
      await back;
      // The paced pane stopped too: a client that attaches now sees the shell answer.
      const t0 = now();
      const fresh = await PaneTerm.open(agent, labF, 'container');
      try {
        await fresh.tap.quiet(300, CTRL_C_BOUND_MS);
        const answered = fresh.tap.expect(MARK, CTRL_C_BOUND_MS);
        fresh.input(`${ECHO_MARK}\r`);
        await answered;
      } finally {
        await fresh.close();
      }
      const pacedStopMs = now() - t0;
      const q = Math.max(1, Math.floor(samples.length / 4));
      o.say(
        `  RSS before ${median(before).toFixed(0)} MB; by quarter of the flood (max): ${[0, 1, 2, 3].map((k) => Math.max(...samples.slice(k * q, (k + 1) * q)).toFixed(0)).join(' ')} MB; ` +
          `${(floodMb / o.floodS).toFixed(0)} MB/s to the acking client, ${neverAckedKib.toFixed(0)} KiB to the one that never acks; ` +
          `its paced pane answered a fresh client ${pacedStopMs.toFixed(0)} ms after Ctrl-C`,
      );
      metrics.push({
        name: 'agent_rss_mb_flood',
        value: round(Math.max(...samples)),
        unit: 'MB',
        baseline: 'agent RSS before the flood',
        baseline_value: round(median(before)),
      });
      metrics.push({
        name: 'never_acking_client_kib',
        value: round(neverAckedKib),
        unit: 'KiB',
        baseline: 'what a skipped client may lag (4 x FLOW_HIGH_BYTES)',
        baseline_value: (4 * FLOW_HIGH_BYTES) / 1024,
      });
    });

    // --- labs left running `yes` with nobody attached -------------------------------------------
    // A closed tab leaves its `yes` running: the agent paces such a pane (64 KiB per 250 ms), so
    // it should cost little, and a learner typing next door should not notice.
    await part('unattended', async (s) => {
      o.say(`agent CPU and a neighbour's echo with ${o.unattended} labs running \`yes\` unattended (vs. the same labs idle)...`);
      const labs: string[] = [];
      for (let i = 0; i < o.unattended; i++) labs.push(await s.lab());
      const me = await s.pane(await s.lab(), 'host');
      const window = async (): Promise<{ cpu: number; echo: number[] }> => {
        const c0 = cpuSeconds(agent.pid);
        const t0 = now();
        const echo = await echoLatency(me, Math.max(50, o.echoes));
        if (now() - t0 < 10_000) await sleep(10_000 - (now() - t0));
        return { cpu: ((cpuSeconds(agent.pid) - c0) / ((now() - t0) / 1000)) * 100, echo };
      };
      await echoLatency(me, 20); // warm-up
      const quiet = await window();
      // A learner attaches, types `yes`, sees it pour, and closes the tab.
      for (const lab of labs) {
        const t = await PaneTerm.open(agent, lab, 'host');
        try {
          await t.tap.quiet(200, 10_000);
          const pouring = t.tap.expect('y\r\ny\r\ny\r\n', 10_000);
          t.input('yes\r');
          await pouring;
        } finally {
          await t.close();
        }
      }
      await sleep(2000);
      const busy = await window();
      o.say(
        `  agent CPU ${busy.cpu.toFixed(1)}% (idle labs: ${quiet.cpu.toFixed(1)}%); echo p50 ${median(busy.echo).toFixed(2)} / p99 ${pct(busy.echo, 99).toFixed(2)} ms ` +
          `(idle labs: ${median(quiet.echo).toFixed(2)} / ${pct(quiet.echo, 99).toFixed(2)} ms; target p99 within 2x)`,
      );
      metrics.push({
        name: 'unattended_yes_agent_cpu_percent',
        value: round(busy.cpu),
        unit: '% of a core',
        baseline: `the same ${o.unattended} labs idle`,
        baseline_value: round(quiet.cpu),
      });
      metrics.push({
        name: 'neighbour_echo_ms_p99_unattended',
        value: round(pct(busy.echo, 99)),
        unit: 'ms',
        baseline: 'quiet neighbours',
        baseline_value: round(pct(quiet.echo, 99)),
      });
    });
  } finally {
    await boot?.close();
    await peer?.stop();
    await agent.stop();
  }
  return metrics;
}

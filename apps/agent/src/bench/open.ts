// Opening a lab as a learner sees it: from the `open` request to both panes' first prompt at the
// client (both panes attached right after the result), over the WebSocket, with the agent in its
// own process. Warm: the agent keeps its pool of ready labs (what a learner normally gets); cold:
// the pool is off (NSLAB_WARM_LABS=0), every lab made from nothing.
import { FRAME_OUTPUT, FRAME_SNAPSHOT, LESSON_IDS, LabInfo, decodeSnapshot, hasPrompt } from '@nslab/shared';
import type { AgentClient } from '../cli/client.js';
import { startChildAgent, type ChildAgent } from './child.js';
import { pct, round, sleep, StallError, type Metric } from './util.js';

export interface OpenOptions {
  opens: number;
  /** The bwrap baseline the labs group measured (ms each). */
  bwrap: number[];
  say: (msg: string) => void;
}

/** The agent's gauge of warm labs (its /metrics). */
async function warmLabs(agent: ChildAgent): Promise<number> {
  const text = await (await fetch(`${agent.url}/metrics`, { headers: { authorization: `Bearer ${agent.token}` } })).text();
  return Number(/^nslab_labs_warm (\S+)$/m.exec(text)?.[1] ?? 0);
}

/** One open, timed from the request to the last pane's prompt at this client; the lab is closed after. */
async function openToPrompts(client: AgentClient, lesson: string): Promise<number> {
  const t0 = performance.now();
  const lab = LabInfo.parse(await client.request({ type: 'open', lesson }));
  const panes = lab.panes.map((p) => p.name);
  const text = new Map<string, string>();
  const done = new Set<string>();
  let finish!: (at: number) => void;
  const all = new Promise<number>((r) => (finish = r));
  const off = client.onFrame((f) => {
    const [id, pane] = f.key.split('/') as [string, string];
    if (id !== lab.id || done.has(pane)) return;
    const bytes = f.op === FRAME_SNAPSHOT ? decodeSnapshot(f.payload)?.screen : f.op === FRAME_OUTPUT ? f.payload : undefined;
    if (!bytes) return;
    const s = (text.get(pane) ?? '') + Buffer.from(bytes).toString('latin1');
    if (!hasPrompt(s)) return void text.set(pane, s.slice(-8192));
    done.add(pane);
    if (done.size === panes.length) finish(performance.now());
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.all(panes.map((pane) => client.request({ type: 'attach', lab: lab.id, pane, cols: 100, rows: 30 })));
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new StallError({
              who: `lab ${lab.id} (${lesson})`,
              what: `the first prompt in ${panes.filter((p) => !done.has(p)).join(', ')}`,
              bytes: [...text.values()].join('').length,
              ms: 15_000,
            }),
          ),
        15_000,
      );
    });
    return (await Promise.race([all, timeout])) - t0;
  } finally {
    clearTimeout(timer);
    off();
    await client.request({ type: 'close', lab: lab.id }).catch(() => {});
  }
}

async function series(agent: ChildAgent, n: number, warm: boolean): Promise<number[]> {
  const client = await agent.connect();
  try {
    // The pool's full size: what it holds once it stops growing.
    let full = 0;
    if (warm) {
      let stableSince = performance.now();
      const deadline = performance.now() + 30_000;
      while (performance.now() - stableSince < 1500 && performance.now() < deadline) {
        const w = await warmLabs(agent);
        if (w !== full || w === 0) stableSince = performance.now();
        full = w;
        await sleep(100);
      }
    }
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      if (warm) {
        const deadline = performance.now() + 20_000;
        while ((await warmLabs(agent)) < full && performance.now() < deadline) await sleep(20);
      }
      out.push(await openToPrompts(client, LESSON_IDS[i % LESSON_IDS.length]!));
    }
    return out;
  } finally {
    await client.close();
  }
}

export async function runOpenToPrompts(o: OpenOptions): Promise<Metric[]> {
  const metrics: Metric[] = [];
  const bw = { baseline: 'bwrap', p50: round(pct(o.bwrap, 50)), p99: round(pct(o.bwrap, 99)) };
  for (const warm of [true, false]) {
    o.say(`lab open to both prompts at the client, ${warm ? 'warm pool' : 'pool off'} x${o.opens} (agent as a child process)...`);
    const agent = await startChildAgent(undefined, warm ? { NSLAB_WARM_LABS: '2' } : { NSLAB_WARM_LABS: '0', NSLAB_WARM_PER_LESSON: '0' });
    try {
      const ms = await series(agent, o.opens, warm);
      const name = warm ? 'lab_open_to_prompts_ms' : 'lab_open_to_prompts_cold_ms';
      o.say(`  p50 ${pct(ms, 50).toFixed(1)} ms, p99 ${pct(ms, 99).toFixed(1)} ms (bwrap \`true\`: ${bw.p50} / ${bw.p99} ms)`);
      metrics.push({ name: `${name}_p50`, value: round(pct(ms, 50)), unit: 'ms', baseline: bw.baseline, baseline_value: bw.p50 });
      metrics.push({ name: `${name}_p99`, value: round(pct(ms, 99)), unit: 'ms', baseline: bw.baseline, baseline_value: bw.p99 });
    } finally {
      await agent.stop();
    }
  }
  return metrics;
}

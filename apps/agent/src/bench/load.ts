// `npm run bench -- --only load`: N learners at once, as browsers would be (a session cookie each,
// the agent's own Origin): each opens a lab for a lesson, attaches both panes (acknowledging
// output), watches the tasks, types every command of the lesson's steps in order, and waits
// until the agent has seen every task done. Measured: the time until all are done, each
// learner's time, and the agent's event-loop delay (p99) over the run, from its /metrics. The
// baseline is one learner alone on the same agent. The learner and the lessons' scripts are
// exported for the cluster group (./cluster.ts), which sends the same learners through a router.
import WebSocket from 'ws';
import { join } from 'node:path';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  FRAME_OUTPUT,
  FRAME_SNAPSHOT,
  PROTOCOL_VERSION,
  RequestTracker,
  AgentError,
  decodeFrame,
  WS_PATH,
  type RequestOf,
  type RequestType,
  type ResultOf,
  type ServerMessage,
} from '@nslab/shared';
import { loadLessons, type Lesson } from '@nslab/shared/content';
import { REPO_ROOT } from '../paths.js';
import { median, pct, round, type Metric } from './util.js';
import { startChildAgent } from './child.js';

export interface LoadOptions {
  learners: number;
  /** Write a CPU profile of the agent into this directory. */
  profileDir?: string;
  say: (msg: string) => void;
}

export interface Script {
  lesson: string;
  /** The lesson's steps in order: the commands of its Run buttons and the tasks it asks for. */
  steps: Array<{ id: string; commands: Array<{ pane: string; text: string }>; tasks: string[] }>;
  tasks: number;
}

/** Every click-to-run command of a lesson's steps, in order, with the tasks of each step. */
export function scripts(): Script[] {
  const lessons: Lesson[] = loadLessons(join(REPO_ROOT, 'content', 'lessons'));
  return lessons.map((l) => {
    const doc = l.docs.en ?? Object.values(l.docs)[0]!;
    const steps: Script['steps'] = doc.steps.map((step) => {
      const commands: Script['steps'][number]['commands'] = [];
      for (const m of step.markdown.matchAll(/```sh pane=([a-z][a-z0-9-]*)\n([\s\S]*?)```/g)) {
        for (const line of m[2]!.split('\n')) if (line.trim()) commands.push({ pane: m[1]!, text: line });
      }
      return { id: step.id, commands, tasks: doc.tasks.filter((t) => t.step === step.id).map((t) => t.id) };
    });
    return { lesson: l.id, steps, tasks: doc.tasks.length };
  });
}

/** One simulated learner: a browser session on one WebSocket. */
export class Learner {
  ws!: WebSocket;
  private readonly requests = new RequestTracker();
  private readonly screens = new Map<string, string>();
  private readonly watchers: Array<() => void> = [];
  /** The tasks the agent has seen done (a task stays done once it was). */
  readonly done = new Set<string>();
  /** When this client first heard of each task done (performance.now()). */
  readonly doneAt = new Map<string, number>();
  /** Told of every pushed message (the workshop's instructor listens for changes). */
  onPush: (m: { type: string; [k: string]: unknown }) => void = () => {};
  lab = '';
  /** Output frames received, all panes. */
  received = 0;

  /** A browser session (or, with `token`, the token holder). */
  static async connect(url: string, token?: string): Promise<Learner> {
    const res = await fetch(`${url}/api/session`);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
    const l = new Learner();
    const headers = token ? { authorization: `Bearer ${token}` } : { cookie, origin: url };
    l.ws = new WebSocket(`${url.replace(/^http/, 'ws')}${WS_PATH}?v=${PROTOCOL_VERSION}`, { headers, perMessageDeflate: false });
    l.ws.on('message', (data, isBinary) => l.onMessage(data as Buffer, isBinary));
    l.ws.on('close', () => l.requests.failAll(new AgentError('connection', 'the connection closed')));
    await new Promise<void>((resolve, reject) => {
      l.ws.once('open', () => resolve());
      l.ws.once('error', reject);
    });
    return l;
  }

  private onMessage(data: Buffer, isBinary: boolean) {
    if (isBinary) {
      const f = decodeFrame(new Uint8Array(data));
      if (!f) return;
      const [lab, pane] = f.key.split('/') as [string, string];
      if (f.op === FRAME_OUTPUT) {
        this.received++;
        // Keep the tail of each pane's output: enough to find the markers.
        this.screens.set(pane, ((this.screens.get(pane) ?? '') + Buffer.from(f.payload).toString()).slice(-16_384));
        this.ws.send(JSON.stringify({ type: 'ack', lab, pane, offset: f.offset + f.payload.length }));
      } else if (f.op === FRAME_SNAPSHOT) this.screens.set(pane, '');
      for (const w of this.watchers.splice(0)) w();
      return;
    }
    const m = JSON.parse(data.toString());
    this.requests.settle(m as ServerMessage);
    if (m.type === 'tasks' && m.lab === this.lab)
      for (const t of m.tasks as Array<{ id: string; status: string }>)
        if (t.status === 'done' && !this.done.has(t.id)) {
          this.done.add(t.id);
          this.doneAt.set(t.id, performance.now());
        }
    if (m.type !== 'result' && m.type !== 'error') this.onPush(m);
    for (const w of this.watchers.splice(0)) w();
  }

  /** A request and its typed, checked answer; a refusal or no answer in 60 s is an error. */
  async request<T extends RequestType>(msg: RequestOf<T> & { type: T }): Promise<ResultOf<T>> {
    const { text, result } = this.requests.make(msg, 60_000);
    this.ws.send(text);
    try {
      return await result;
    } catch (err) {
      throw new Error(`${msg.type}: ${(err as Error).message}`);
    }
  }

  /** Debugging: the tail of each pane's output. */
  *screenTails() {
    for (const [pane, text] of this.screens) yield `${pane}:\n${text.slice(-1500)}`;
  }

  /** Wait until `cond` holds, re-checked whenever something arrives. */
  async until(what: string, cond: () => boolean, timeoutMs = 60_000) {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`learner of lab ${this.lab}: no ${what} within ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.watchers.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Type a command, then a marker, and wait for the marker's output: the command has run. */
  async run(pane: string, text: string, n: number) {
    const marker = `__M${n}_`;
    this.ws.send(JSON.stringify({ type: 'input', lab: this.lab, pane, data: `${text}\r` }));
    // $((40+2)) makes the output differ from the echoed input.
    this.ws.send(JSON.stringify({ type: 'input', lab: this.lab, pane, data: `echo ${marker}$((40+2))\r` }));
    await this.until(`marker ${n} in ${pane}`, () => (this.screens.get(pane) ?? '').includes(`${marker}42`));
  }

  /** Keystroke-to-echo times (ms) at a prompt: `n` keystrokes, x and backspace in turn. */
  async echoes(pane: string, n: number): Promise<number[]> {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const before = this.received;
      const t0 = performance.now();
      this.ws.send(JSON.stringify({ type: 'input', lab: this.lab, pane, data: i % 2 ? '\x7f' : 'x' }));
      await this.until('an echo', () => this.received > before, 10_000);
      times.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
    }
    return times;
  }

  close() {
    this.ws.close();
  }
}

/**
 * One learner's whole lesson; returns its time (ms) and whether every task was done.
 * `connected` is told of the learner as soon as its WebSocket is open (its lab id is set once
 * the lab is open): the cluster group watches connections and gives up on stuck learners.
 */
export async function learn(
  url: string,
  script: Script,
  seat?: { code: string; name: string; tell: (l: Learner) => void },
  connected?: (l: Learner) => void,
): Promise<{ ms: number; allDone: boolean; missing: string[] }> {
  const t0 = performance.now();
  const l = await Learner.connect(url);
  connected?.(l);
  try {
    if (seat) {
      await l.request({ type: 'join', code: seat.code, name: seat.name });
      seat.tell(l);
    }
    const lab = await l.request({ type: 'open', lesson: script.lesson });
    l.lab = lab.id;
    const panes = [...new Set(lab.panes.map((p) => p.name))];
    for (const pane of panes) await l.request({ type: 'attach', lab: l.lab, pane, cols: 120, rows: 32 });
    await l.request({ type: 'watch', lab: l.lab });
    // The first prompt in every pane, then the lesson's commands in order.
    for (const pane of panes) await l.run(pane, 'true', 0);
    // As a learner does: a step's commands, then a look at its tasks (the page ticks them) before
    // the next step, which may undo what the check looks for (a sleep it kills).
    let n = 1;
    let allDone = true;
    const missing: string[] = [];
    for (const step of script.steps) {
      for (const c of step.commands) {
        await l.run(c.pane, c.text, n++);
        // A glance at the task list after each command (up to 0.6 s, less once the step's tasks
        // are ticked): a lesson may start a process and stop it two commands later, and a
        // learner never types that fast.
        if (!step.tasks.every((t) => l.done.has(t))) await l.until('a glance', () => step.tasks.every((t) => l.done.has(t)), 600).catch(() => {});
      }
      try {
        await l.until(`the tasks of step ${step.id}`, () => step.tasks.every((t) => l.done.has(t)), 15_000);
      } catch {
        allDone = false;
        missing.push(...step.tasks.filter((t) => !l.done.has(t)));
        if (process.env.NSLAB_BENCH_DEBUG) console.error(`--- ${script.lesson}/${step.id}: ${[...l.screenTails()].join('\n--- ')}`);
      }
    }
    await l.request({ type: 'close', lab: l.lab });
    return { ms: performance.now() - t0, allDone, missing };
  } finally {
    l.close();
  }
}

/** The agent's event-loop delay p99 (s) since the last scrape (prom-client resets it on each). */
export async function loopP99(url: string, token: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  return Number(/^nslab_nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text)?.[1] ?? NaN);
}

export async function runLoadBench(opts: LoadOptions): Promise<Metric[]> {
  // A store of its own (workshops, recordings), removed afterwards.
  const dataDir = mkdtempSync(join(tmpdir(), 'nslab-bench-load-'));
  // Every learner comes from 127.0.0.1, as behind a reverse proxy: the per-address caps are off.
  const agent = await startChildAgent(opts.profileDir, {
    NSLAB_DATA_DIR: dataDir,
    NSLAB_MAX_LABS: String(opts.learners + 16),
    NSLAB_WARM_LABS: '2',
    NSLAB_LABS_PER_ADDRESS: '0',
    NSLAB_RATE_ADDRESS_OPENS_BURST: '100000',
  });
  try {
    const metrics = await load({ ...opts, url: agent.url, token: agent.token });
    const room = await workshop({ ...opts, url: agent.url, token: agent.token, recordings: join(dataDir, 'recordings') });
    return [...metrics, ...room, ...(await neighbour({ ...opts, url: agent.url }))];
  } finally {
    await agent.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * A lab next to one that misbehaves: keystroke echo in a quiet lab, then again while another lab
 * runs a fork bomb, a memory hog and a disk filler at once.
 */
async function neighbour(o: LoadOptions & { url: string }): Promise<Metric[]> {
  const quiet = await Learner.connect(o.url);
  const noisy = await Learner.connect(o.url);
  try {
    for (const l of [quiet, noisy]) {
      l.lab = (await l.request({ type: 'open', lesson: 'uts' })).id;
      await l.request({ type: 'attach', lab: l.lab, pane: 'host', cols: 120, rows: 32 });
      await l.run('host', 'true', 0);
    }
    await quiet.echoes('host', 50);
    const calm = await quiet.echoes('host', 200);
    for (const cmd of [
      "hog() { while :; do ( x=$(head -c 400M /dev/zero | tr '\\0' a) ); done; }; hog &",
      'while :; do dd if=/dev/zero of=/root/fill bs=1M 2>/dev/null; rm -f /root/fill; done &',
      'bomb() { bomb | bomb & }; bomb',
    ]) {
      noisy.ws.send(JSON.stringify({ type: 'input', lab: noisy.lab, pane: 'host', data: `${cmd}\r` }));
    }
    await new Promise((r) => setTimeout(r, 2000));
    const storm = await quiet.echoes('host', 200);
    o.say(
      `  echo next to a fork bomb + memory hog + disk filler: p50 ${median(storm).toFixed(2)} ms, p99 ${pct(storm, 99).toFixed(2)} ms ` +
        `(quiet: ${median(calm).toFixed(2)} / ${pct(calm, 99).toFixed(2)} ms)`,
    );
    return [
      { name: 'neighbour_echo_ms_p50', value: round(median(storm)), unit: 'ms', baseline: 'no misbehaving lab', baseline_value: round(median(calm)) },
      { name: 'neighbour_echo_ms_p99', value: round(pct(storm, 99)), unit: 'ms', baseline: 'no misbehaving lab', baseline_value: round(pct(calm, 99)) },
    ];
  } finally {
    await noisy.request({ type: 'close', lab: noisy.lab }).catch(() => {});
    await quiet.request({ type: 'close', lab: quiet.lab }).catch(() => {});
    quiet.close();
    noisy.close();
  }
}

async function load(o: LoadOptions & { url: string; token: string }): Promise<Metric[]> {
  const all = scripts().filter((s) => s.steps.some((st) => st.commands.length));
  o.say(`load: ${all.length} lessons, ${all.reduce((n, s) => n + s.steps.reduce((k, st) => k + st.commands.length, 0), 0)} commands in all`);

  // Baseline: one learner alone, each lesson once.
  await loopP99(o.url, o.token);
  const alone: number[] = [];
  for (const s of all) {
    const r = await learn(o.url, s);
    if (!r.allDone) o.say(`  alone: lesson ${s.lesson} ended with tasks not done: ${r.missing.join(', ')}`);
    alone.push(r.ms);
  }
  const aloneLoop = await loopP99(o.url, o.token);
  o.say(`  one learner alone: median ${(median(alone) / 1000).toFixed(2)} s a lesson, event-loop p99 ${(aloneLoop * 1000).toFixed(1)} ms`);

  // N learners at once, lessons dealt round-robin.
  o.say(`  ${o.learners} learners at once...`);
  await loopP99(o.url, o.token);
  const t0 = performance.now();
  const results = await Promise.allSettled(Array.from({ length: o.learners }, (_, i) => learn(o.url, all[i % all.length]!)));
  const wall = performance.now() - t0;
  const loop = await loopP99(o.url, o.token);
  const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
  for (const f of failed.slice(0, 3)) o.say(`  failed: ${(f.reason as Error).message}`);
  for (const r of ok.filter((x) => !x.allDone).slice(0, 3)) o.say(`  tasks not done: ${r.missing.join(', ')}`);
  const times = ok.map((r) => r.ms);
  o.say(
    `  all done in ${(wall / 1000).toFixed(1)} s; per learner p50 ${(median(times) / 1000).toFixed(2)} s, p99 ${(pct(times, 99) / 1000).toFixed(2)} s; ` +
      `${failed.length} failed, ${ok.filter((r) => !r.allDone).length} with tasks not done; event-loop p99 ${(loop * 1000).toFixed(1)} ms`,
  );
  return [
    {
      name: `load_${o.learners}_learners_s`,
      value: round(wall / 1000),
      unit: 's',
      baseline: 'one learner, one lesson (median)',
      baseline_value: round(median(alone) / 1000),
    },
    { name: 'load_learner_s_p50', value: round(median(times) / 1000), unit: 's', baseline: 'one learner alone', baseline_value: round(median(alone) / 1000) },
    {
      name: 'load_learner_s_p99',
      value: round(pct(times, 99) / 1000),
      unit: 's',
      baseline: 'one learner alone (p99)',
      baseline_value: round(pct(alone, 99) / 1000),
    },
    { name: 'load_failed_learners', value: failed.length + ok.filter((r) => !r.allDone).length, unit: 'learners' },
    { name: 'agent_event_loop_p99_ms_load', value: round(loop * 1000), unit: 'ms', baseline: 'one learner alone', baseline_value: round(aloneLoop * 1000) },
  ];
}

/**
 * A workshop: N learners in one room doing their lessons while the instructor's dashboard is
 * open (a browser connection with the instructor key that asks for the room on every change, as
 * the page does). Measured: dashboard lag, from a learner's page hearing of a task done to the
 * dashboard's room showing it, and the agent's event loop. The baseline: one learner in a room.
 */
/** Bytes under a directory, every file. */
function bytesUnder(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += statSync(join(e.parentPath, e.name)).size;
  return n;
}

async function workshop(o: LoadOptions & { url: string; token: string; recordings: string }): Promise<Metric[]> {
  const all = scripts().filter((s) => s.steps.some((st) => st.commands.length));
  const admin = await Learner.connect(o.url, o.token);
  const run = async (learners: number) => {
    const w = await admin.request({ type: 'workshop-create', title: `bench ${learners}`, lessons: all.map((s) => s.lesson), seats: learners });
    const teacher = await Learner.connect(o.url);
    await teacher.request({ type: 'instructor', workshop: w.id, key: w.instructorKey });
    const seenAt = new Map<string, number>();
    let asking = false;
    let again = false;
    const look = async () => {
      if (asking) return void (again = true);
      asking = true;
      try {
        do {
          again = false;
          const room = await teacher.request({ type: 'workshop-show', workshop: w.id });
          const now = performance.now();
          for (const l of room.learners) for (const d of l.done) if (!seenAt.has(`${l.name}/${d.task}`)) seenAt.set(`${l.name}/${d.task}`, now);
        } while (again);
      } finally {
        asking = false;
      }
    };
    teacher.onPush = (m) => {
      if (m.type === 'workshop-changed') void look();
    };
    const learnersOf = new Map<string, Learner>();
    const recordedBefore = existsSync(o.recordings) ? bytesUnder(o.recordings) : 0;
    const started = performance.now();
    await loopP99(o.url, o.token);
    const results = await Promise.allSettled(
      Array.from({ length: learners }, (_, i) =>
        learn(o.url, all[i % all.length]!, { code: w.code, name: `learner-${i}`, tell: (l) => learnersOf.set(`learner-${i}`, l) }),
      ),
    );
    const loop = await loopP99(o.url, o.token);
    const minutes = (performance.now() - started) / 60_000;
    await new Promise((r) => setTimeout(r, 1500)); // the last changes reach the dashboard, the recordings close
    const recorded = (existsSync(o.recordings) ? bytesUnder(o.recordings) : 0) - recordedBefore;
    const lags: number[] = [];
    let missed = 0;
    for (const [name, l] of learnersOf)
      for (const [task, at] of l.doneAt) {
        const seen = seenAt.get(`${name}/${task}`);
        if (seen === undefined) missed++;
        else lags.push(Math.max(0, seen - at));
      }
    await admin.request({ type: 'workshop-close', workshop: w.id });
    teacher.close();
    return { lags, missed, loop, failed: results.filter((r) => r.status === 'rejected').length, perLearnerMinute: recorded / (learners * minutes) };
  };
  try {
    o.say('  a workshop: one learner with the dashboard open...');
    const one = await run(1);
    o.say(`  a workshop: ${o.learners} learners with the dashboard open...`);
    const room = await run(o.learners);
    o.say(
      `  dashboard lag p50 ${median(room.lags).toFixed(0)} ms, p99 ${pct(room.lags, 99).toFixed(0)} ms over ${room.lags.length} tasks ` +
        `(${room.missed} never shown, ${room.failed} learners failed; one learner: p50 ${median(one.lags).toFixed(0)}, p99 ${pct(one.lags, 99).toFixed(0)} ms); ` +
        `event-loop p99 ${(room.loop * 1000).toFixed(1)} ms (one learner: ${(one.loop * 1000).toFixed(1)}); ` +
        `recordings ${(room.perLearnerMinute / 1024).toFixed(1)} KiB per learner-minute (one learner: ${(one.perLearnerMinute / 1024).toFixed(1)})`,
    );
    return [
      {
        name: 'workshop_dashboard_lag_ms_p50',
        value: round(median(room.lags)),
        unit: 'ms',
        baseline: 'one learner in the room',
        baseline_value: round(median(one.lags)),
      },
      {
        name: 'workshop_dashboard_lag_ms_p99',
        value: round(pct(room.lags, 99)),
        unit: 'ms',
        baseline: 'one learner in the room (p99)',
        baseline_value: round(pct(one.lags, 99)),
      },
      { name: 'workshop_tasks_never_shown', value: room.missed, unit: 'tasks' },
      {
        name: 'workshop_recording_kib_per_learner_minute',
        value: round(room.perLearnerMinute / 1024),
        unit: 'KiB',
        baseline: 'one learner in the room',
        baseline_value: round(one.perLearnerMinute / 1024),
      },
      {
        name: 'agent_event_loop_p99_ms_workshop',
        value: round(room.loop * 1000),
        unit: 'ms',
        baseline: 'one learner in the room',
        baseline_value: round(one.loop * 1000),
      },
    ];
  } finally {
    admin.close();
  }
}

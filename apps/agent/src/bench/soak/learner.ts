// One simulated learner: a browser (its own session cookie) with one lesson page open. In rounds
// until the soak's end, it opens a lab, types, floods its terminal with `yes` and with a numbered
// stream (`seq`), presses Ctrl-C, reloads the page (attach without `from`: a snapshot), loses its
// network and comes back (attach with `from`: the bytes it missed), leaves its tab in the
// background (stops acknowledging), restarts a pane and closes its lab. Every byte it receives
// goes through a PaneView's checks; every wait is bounded, and a wait that runs out is a stall.
//
// A lab or pane taken away (by the chaos, by the agent) ends the round: that is not a failure when
// the learner was told why (lab-closed with a reason, pane-exit, or, for a learner that was
// offline at that moment, unknown-lab when it comes back).
import { FRAME_OUTPUT, FRAME_SNAPSHOT, LESSON_IDS, type Frame } from '@nslab/shared';
import { sleep, StallError } from '../util.js';
import { AgentRefused, Conn, ConnectionLost, newSession, type AgentEvent } from './conn.js';
import { PaneView, SeqCheck } from './pane-view.js';
import type { SoakStats } from './stats.js';

export const PROMPT = 'soak-ok>';
const COLS = 100;
const ROWS = 30;
/** How long the prompt may take to come back after Ctrl-C (a bound on behaviour, not a speed target). */
export const CTRL_C_BOUND_MS = 15_000;
/** Waiting for output: no byte for this long is a stall. */
const IDLE_BOUND_MS = 20_000;
/**
 * A background tab stops acknowledging for longer than the 5 s after which the agent lets go of a
 * writer; past about 11 s of `yes` (paced) it has also fallen 2 MiB behind and is skipped, and
 * catches up when it comes back.
 */
const BACKGROUND_MS = [6_000, 14_000] as const;

/** The lab or pane went away and the learner was told why. */
class Told extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'Told';
  }
}

interface LabState {
  id: string;
  lesson: string;
  views: Map<string, PaneView>;
  /** Why the agent closed it (lab-closed), once it did. */
  closed: string | null;
  /** We asked for the close. */
  closing: boolean;
  /** The connection whose attach of its panes succeeded (lab-closed goes to attached clients). */
  attachedOn: Conn | null;
}

export interface LearnerEnv {
  url: string;
  stats: SoakStats;
  /** Lines of each `seq` run. */
  seqLines: number;
  /** performance.now() at which to stop starting rounds. */
  deadline: number;
  maxRounds: number;
  rand: () => number;
}

type Action = 'type' | 'seq' | 'yes-ctrl-c' | 'seq-ctrl-c' | 'reload' | 'drop-resume' | 'drop-during-seq' | 'background-tab' | 'restart' | 'close';
/** Rounds the learner's state calls for: no connection, no lab, a pane whose shell exited. */
type Forced = 'connect' | 'open' | 'restart-exited';
const WEIGHTS: Array<[Action, number]> = [
  ['type', 3],
  ['seq', 3],
  ['yes-ctrl-c', 3],
  ['seq-ctrl-c', 1],
  ['reload', 2],
  ['drop-resume', 2],
  ['drop-during-seq', 2],
  ['background-tab', 1],
  ['restart', 1],
  ['close', 1],
];

const COMMANDS = ['ls /', 'echo $$', 'hostname', 'id', 'cat /proc/self/uid_map', 'ps -e | head -5', 'readlink /proc/$$/ns/pid', 'uname -r'];

export class Learner {
  readonly who: string;
  private cookie = '';
  private conn: Conn | null = null;
  private lab: LabState | null = null;
  private counter = 0;
  private wakers: Array<() => void> = [];
  rounds = 0;

  constructor(
    readonly n: number,
    private readonly env: LearnerEnv,
  ) {
    this.who = `learner ${n}`;
  }

  private get stats() {
    return this.env.stats;
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.env.rand() * xs.length)]!;
  }

  private between(lo: number, hi: number) {
    return lo + this.env.rand() * (hi - lo);
  }

  /** A number for a marker no other learner or round uses. */
  private mark(): number {
    return this.n * 1_000_000 + ++this.counter;
  }

  async run(): Promise<void> {
    this.cookie = await newSession(this.env.url);
    while (performance.now() < this.env.deadline && this.rounds < this.env.maxRounds) {
      await this.round();
      this.rounds++;
    }
    await this.finish();
  }

  private choose(): Action | Forced {
    if (!this.conn?.open) return 'connect';
    if (!this.lab || this.lab.closed) return 'open';
    if ([...this.lab.views.values()].some((v) => !v.running)) return 'restart-exited';
    let r = this.env.rand() * WEIGHTS.reduce((n, [, w]) => n + w, 0);
    for (const [a, w] of WEIGHTS) if ((r -= w) < 0) return a;
    return 'type';
  }

  private async round() {
    const action = this.choose();
    try {
      await this.act(action);
      this.stats.round(action);
    } catch (err) {
      await this.handle(err, action);
    } finally {
      if (this.lab) for (const v of this.lab.views.values()) v.seq = null;
    }
  }

  private async act(action: Action | Forced) {
    switch (action) {
      case 'connect':
        return this.connect();
      case 'open':
        return this.open();
      case 'restart-exited':
        return this.restartExited();
      case 'restart':
        return this.restartRunning();
      case 'type':
        return this.type();
      case 'seq':
        return this.seqRun(false);
      case 'drop-during-seq':
        return this.seqRun(true);
      case 'yes-ctrl-c':
        return this.floodThenCtrlC('yes');
      case 'seq-ctrl-c':
        return this.floodThenCtrlC('seq 1 1000000000');
      case 'reload':
        return this.reload();
      case 'drop-resume':
        return this.dropResume();
      case 'background-tab':
        return this.backgroundTab();
      case 'close':
        return this.close();
    }
  }

  /** What went wrong in a round: told, a stall, a refusal, a lost connection, or a bug of ours. */
  private async handle(err: unknown, action: string) {
    if (err instanceof Told) {
      // Counted when the event came (onEvent).
      if (this.lab?.closed) this.forgetLab();
      return;
    }
    if (err instanceof StallError) {
      // Whether the learner had been told its lab was gone meanwhile: the request still owed an answer.
      const closed = this.lab?.closed;
      this.stats.stall({ ...err.stall, what: `${action}: ${err.stall.what}${closed ? ` (lab-closed came meanwhile: ${closed})` : ''}` });
      // Start over: a new page and a new lab (the stalled one is closed if it can be).
      const lab = this.lab;
      this.forgetLab();
      this.conn?.drop();
      this.conn = null;
      if (lab) {
        await this.connect().catch(() => {});
        await (this.conn as Conn | null)?.request({ type: 'close', lab: lab.id }).catch(() => {});
      }
      return;
    }
    if (err instanceof AgentRefused) {
      if (err.code === 'unknown-lab' && this.lab) {
        const lab = this.lab;
        // The lab went away: lab-closed may be on its way (it goes to attached clients).
        const deadline = performance.now() + 3000;
        while (!lab.closed && performance.now() < deadline) await this.nap(100);
        if (lab.closed) {
          // Told, and counted, when lab-closed came.
        } else if (lab.attachedOn && lab.attachedOn === this.conn && this.conn.open) {
          this.stats.untold.push(`${this.who}: lab ${lab.id} is gone (${err.message}) and no lab-closed came`);
        } else this.stats.tell('unknown-lab after reconnecting');
        this.forgetLab();
        return;
      }
      if (!err.said.trim()) this.stats.untold.push(`${this.who}: ${err.request} refused with ${err.code} and no message`);
      if (err.code === 'pane-not-running') return; // its pane-exit was on its way; restart next
      this.stats.fail(err.message);
      await sleep(500 + this.env.rand() * 1000);
      return;
    }
    if (err instanceof ConnectionLost) {
      this.stats.fail(`${err.request}: connection lost`);
      this.conn = null;
      return;
    }
    const e = err as Error;
    this.stats.errors.push(`${this.who} (${action}): ${e.stack ?? e.message}`);
    await sleep(1000);
  }

  // --- connection, frames, events ---

  private wake() {
    const ws = this.wakers;
    this.wakers = [];
    for (const w of ws) w();
  }

  private nap(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.wakers.push(() => {
        clearTimeout(t);
        r();
      });
    });
  }

  private onFrame(f: Frame) {
    const v = this.lab?.views.get(f.key.slice(f.key.indexOf('/') + 1));
    if (v && v.key === f.key) {
      if (f.op === FRAME_OUTPUT) v.output(f.offset, f.payload);
      else if (f.op === FRAME_SNAPSHOT) v.snapshotFrame(f.offset, f.payload);
    }
    this.wake();
  }

  private onEvent(e: AgentEvent) {
    const lab = this.lab;
    if (lab && e.lab === lab.id) {
      if (e.type === 'lab-closed' && lab.closed === null) {
        lab.closed = String(e.reason ?? '');
        if (!lab.closing) this.stats.tell(`lab-closed: ${lab.closed || '(no reason)'}`);
      }
      const v = e.pane ? lab.views.get(e.pane) : undefined;
      if (v && e.type === 'pane-exit' && !v.restarting) {
        v.running = false;
        if (!lab.closing) this.stats.tell('pane-exit');
      }
      if (v && e.type === 'pane-start') v.running = true;
    }
    if (e.type === 'notice-error') this.stats.fail(`a notice was refused: ${e.code}: ${e.message}`);
    this.wake();
  }

  /** A page (re)connects; with a lab, attaches its panes again, resuming where it was. */
  private async connect(resume = true) {
    const conn = await Conn.open(this.env.url, this.cookie, this.who);
    conn.onFrame = (f) => this.onFrame(f);
    conn.onEvent = (e) => this.onEvent(e);
    conn.onError = (err) => this.stats.errors.push(`${this.who}: reading a message: ${err.stack ?? err.message}`);
    conn.onLost = (why) => {
      this.stats.connectionsLost.push(`${this.who}: ${why}`);
      if (this.lab) for (const v of this.lab.views.values()) v.detached();
      this.wake();
    };
    this.conn = conn;
    if (this.lab && !this.lab.closed) await this.attachAll(resume);
  }

  /** Attach every pane of the lab on this connection; `resume`: from where each pane's terminal is. */
  private async attachAll(resume: boolean) {
    const lab = this.lab!;
    const conn = this.conn!;
    lab.attachedOn = null;
    await Promise.all(
      [...lab.views.values()].map(async (v) => {
        const from = resume && v.expected !== null ? v.expected : undefined;
        v.beginAttach((m) => conn.send(m), from);
        const r = await conn.request({ type: 'attach', lab: lab.id, pane: v.name, cols: COLS, rows: ROWS, ...(from !== undefined ? { from } : {}) });
        const problem = v.attached(r, from);
        if (problem) this.stats.protocol(v, problem);
        this.stats.replay(from === undefined ? `${r.replay} (asked for one)` : r.replay === 'resume' ? 'resume' : 'snapshot (resume not possible)');
        if (!r.running) v.running = false;
      }),
    );
    lab.attachedOn = conn;
    // The replay comes right after each answer: a snapshot, when one was announced.
    await this.until('the replay after attach', () => [...lab.views.values()].every((v) => !v.awaitingSnapshot), { maxMs: 15_000 });
    // As the page does: task checks and the namespace picture.
    await conn.request({ type: 'watch', lab: lab.id });
  }

  private forgetLab() {
    if (this.lab) for (const v of this.lab.views.values()) v.dispose();
    this.lab = null;
  }

  /**
   * Wait until `cond` holds, woken by whatever arrives. Throws Told when the lab or the watched
   * pane went away, and StallError past `maxMs`, or when the watched pane sends nothing for
   * `idleMs` (output that stopped coming).
   */
  private async until(what: string, cond: () => boolean, o: { view?: PaneView; maxMs: number; idleMs?: number }) {
    const t0 = performance.now();
    for (;;) {
      if (cond()) return;
      const lab = this.lab;
      if (lab?.closed && !lab.closing) throw new Told(lab.closed);
      if (o.view && !o.view.running && !o.view.restarting) throw new Told('pane-exit');
      if (!this.conn?.open) throw new ConnectionLost(what);
      const now = performance.now();
      const idle = o.view && o.idleMs ? now - Math.max(o.view.lastAt, t0) : 0;
      if (now - t0 > o.maxMs || (o.idleMs && idle > o.idleMs)) {
        throw new StallError({ who: `${this.who} ${o.view ? o.view.key : (lab?.id ?? '')}`, what, bytes: o.view?.bytes ?? 0, ms: now - t0 });
      }
      await this.nap(100);
    }
  }

  private input(v: PaneView, data: string) {
    this.conn!.send({ type: 'input', lab: v.lab, pane: v.name, data });
  }

  /** Type as a person does, a key at a time. */
  private async typeSlowly(v: PaneView, text: string) {
    for (const ch of text) {
      this.input(v, ch);
      await sleep(this.between(5, 40));
    }
  }

  /** Run a command and wait for a marker printed after it: the shell is back at its prompt. */
  private async runCommand(v: PaneView, command: string, slowly = false, maxMs = 60_000) {
    const k = this.mark();
    const w = v.watch(`mk${k}-`);
    const line = `${command}; echo mk$((${k}+0))-\r`;
    try {
      if (slowly) await this.typeSlowly(v, line);
      else this.input(v, line);
      await this.until(`the output of \`${command.slice(0, 40)}\``, () => w.found, { view: v, maxMs, idleMs: IDLE_BOUND_MS });
    } finally {
      w.cancel();
    }
  }

  private randomPane(): PaneView {
    const running = [...this.lab!.views.values()].filter((v) => v.running);
    if (!running.length) throw new Told('pane-exit');
    return this.pick(running);
  }

  // --- actions ---

  private async open() {
    this.forgetLab();
    const t0 = performance.now();
    const lesson = this.pick(LESSON_IDS);
    const info = await this.conn!.request({ type: 'open', lesson });
    const views = new Map<string, PaneView>();
    for (const p of info.panes as Array<{ name: string }>) views.set(p.name, new PaneView(info.id, p.name, this.who, this.stats));
    this.lab = { id: info.id, lesson, views, closed: null, closing: false, attachedOn: null };
    await this.attachAll(false);
    // Each shell: the learner's prompt, and an answer (the shell is up).
    await Promise.all([...views.values()].map((v) => this.runCommand(v, `PS1='soak-''ok> '`)));
    this.stats.openMs.push(performance.now() - t0);
  }

  /** A pane whose shell exited: restart it (the page's Restart button). */
  private async restartExited() {
    const v = this.pick([...this.lab!.views.values()].filter((x) => !x.running));
    v.restarting = true;
    try {
      const r = await this.conn!.request({ type: 'restart', lab: v.lab, pane: v.name });
      v.running = r.running !== false;
    } finally {
      v.restarting = false;
    }
    await this.runCommand(v, `PS1='soak-''ok> '`);
  }

  /** Restart a pane that is running (the learner asks for a fresh shell). */
  private async restartRunning() {
    const v = this.randomPane();
    v.restarting = true;
    try {
      await this.conn!.request({ type: 'restart', lab: v.lab, pane: v.name });
      v.running = true;
    } finally {
      v.restarting = false;
    }
    await this.runCommand(v, `PS1='soak-''ok> '`);
  }

  private async type() {
    const v = this.randomPane();
    await this.runCommand(v, this.pick(COMMANDS), true);
  }

  /** `seq 1 N` between two markers; every number must arrive once, in order. */
  private async seqRun(dropMidway: boolean) {
    const v = this.randomPane();
    const s = new SeqCheck(this.mark(), this.env.seqLines);
    v.seq = s;
    let interrupted = true;
    try {
      this.input(v, s.command);
      if (dropMidway) {
        // Some output first, then the network goes, then the page comes back and resumes.
        const b0 = v.bytes;
        const until = performance.now() + this.between(200, 1200);
        await this.until('seq output before the drop', () => performance.now() > until || s.phase === 'done' || v.bytes - b0 > 4 << 20, {
          view: v,
          maxMs: 30_000,
          idleMs: IDLE_BOUND_MS,
        });
        this.conn!.drop();
        for (const x of this.lab!.views.values()) x.detached();
        await sleep(this.between(50, 800));
        await this.connect(true);
      }
      await this.until(`the end of seq 1 ${s.last}`, () => s.phase === 'done', { view: v, maxMs: 300_000, idleMs: IDLE_BOUND_MS });
      interrupted = false;
    } finally {
      v.seq = null;
      this.stats.seqRun(`${this.who} ${v.key}`, s, interrupted);
    }
    await this.runCommand(v, 'true');
  }

  /** A flood, then Ctrl-C: the prompt must be back within the bound. */
  private async floodThenCtrlC(command: string) {
    const v = this.randomPane();
    const b0 = v.bytes;
    this.input(v, `${command}\r`);
    await this.until(`${command} to pour`, () => v.bytes - b0 > 64 * 1024, { view: v, maxMs: 30_000, idleMs: IDLE_BOUND_MS });
    await sleep(this.between(200, 2000));
    await this.ctrlC(v);
  }

  private async ctrlC(v: PaneView) {
    const w = v.watch(PROMPT);
    try {
      const t0 = performance.now();
      this.input(v, '\x03');
      await this.until('the prompt after Ctrl-C', () => w.found, { view: v, maxMs: CTRL_C_BOUND_MS });
      this.stats.ctrlCMs.push(performance.now() - t0);
    } finally {
      w.cancel();
    }
  }

  /** The page is reloaded: a new connection, every pane attached without `from` (a snapshot). */
  private async reload() {
    await this.conn!.close();
    if (this.lab) for (const v of this.lab.views.values()) v.detached();
    await this.connect(false);
    if (this.lab) await this.runCommand(this.randomPane(), 'true');
  }

  /** The network drops for a moment; the page comes back and resumes from what it has. */
  private async dropResume() {
    this.conn!.drop();
    if (this.lab) for (const v of this.lab.views.values()) v.detached();
    await sleep(this.between(0, 1500));
    await this.connect(true);
    if (this.lab) await this.runCommand(this.randomPane(), 'true');
  }

  /**
   * `yes` in a tab that goes to the background and stops acknowledging for longer than the agent
   * lets a writer hold its pane; it comes back (acknowledges, takes the focus), then Ctrl-C.
   */
  private async backgroundTab() {
    const v = this.randomPane();
    const b0 = v.bytes;
    this.input(v, 'yes\r');
    await this.until('yes to pour', () => v.bytes - b0 > 64 * 1024, { view: v, maxMs: 30_000, idleMs: IDLE_BOUND_MS });
    v.acking = false;
    try {
      await sleep(this.between(...BACKGROUND_MS));
    } finally {
      v.acking = true;
    }
    if (this.lab?.closed) throw new Told(this.lab.closed);
    v.sendAck();
    this.conn?.send({ type: 'focus', lab: v.lab, pane: v.name });
    await this.ctrlC(v);
  }

  private async close() {
    const lab = this.lab!;
    lab.closing = true;
    await this.conn!.request({ type: 'close', lab: lab.id });
    this.forgetLab();
  }

  /** The end: close the lab and the page. */
  private async finish() {
    try {
      if (this.lab && !this.lab.closed) {
        if (!this.conn?.open) await this.connect(true);
        this.lab.closing = true;
        await this.conn!.request({ type: 'close', lab: this.lab.id });
      }
    } catch (err) {
      await this.handle(err, 'finish');
    }
    this.forgetLab();
    await this.conn?.close();
    this.conn = null;
  }
}

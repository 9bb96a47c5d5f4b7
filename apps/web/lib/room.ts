// The workshop side of the protocol for pages (docs/workshops.md), each on a connection of its
// own (lib/socket.ts): joining with a code (the join page), a learner's seat with its
// broadcasts and help requests (the bar on the lesson page), and the instructor's room (the
// dashboard), asked for again on every change the agent reports. Each is a small store React
// reads with useSyncExternalStore.
import type { SeatInfo, WorkshopState } from '@nslab/shared';
import { AgentSocket, errorCode, errorMessage, withConnection, type AgentEvent } from './socket';
import { StateStore } from './store';

/** A state React reads, and a socket that (re)connects by itself. */
abstract class SocketStore<S> extends StateStore<S> {
  protected readonly socket: AgentSocket;

  constructor(state: S) {
    super(state);
    this.socket = new AgentSocket({
      connecting: () => {},
      hello: () => this.onHello(),
      message: (m) => this.onMessage(m),
      frame: () => {},
      closed: () => this.socket.retryLater(),
      countdown: () => {},
    });
  }

  start() {
    this.socket.start();
  }

  stop() {
    this.socket.stop();
  }

  protected abstract onHello(): void;
  protected onMessage(_m: AgentEvent) {}
}

// ---- joining ----

export type JoinOutcome = { ok: true; seat: SeatInfo } | { ok: false; code: string; message: string };

/** Take a seat with a code: one request on a connection made for it. */
export function join(code: string, name: string): Promise<JoinOutcome> {
  return withConnection((socket) => socket.request({ type: 'join', code, name })).then(
    (seat): JoinOutcome => ({ ok: true, seat }),
    (err: unknown): JoinOutcome => ({ ok: false, code: errorCode(err) ?? 'failed', message: errorMessage(err) }),
  );
}

// ---- a learner's seat ----

export interface SeatState {
  seat: SeatInfo | null;
  broadcast: string | null;
  closed: boolean;
  help: 'idle' | 'sending' | 'sent' | 'failed';
  helpMessage: string | null;
  /** A take-over the instructor asked for (its request id), or one the learner allowed. */
  takeover: { request: string; state: 'asked' | 'allowed' } | null;
  /** The lesson the instructor moved the room on to. */
  move: string | null;
}

export class LearnerSeat extends SocketStore<SeatState> {
  constructor() {
    super({ seat: null, broadcast: null, closed: false, help: 'idle', helpMessage: null, takeover: null, move: null });
  }

  protected onHello() {
    this.socket.request({ type: 'seat' }).then(
      (seat) => this.set({ seat, broadcast: seat?.broadcast?.text || null, closed: false }),
      () => {},
    );
  }

  protected onMessage(m: AgentEvent) {
    const mine = this.state.seat?.workshop.id;
    if (!mine) return;
    if (m.type === 'broadcast' && m.workshop === mine) this.set({ broadcast: m.text || null });
    if (m.type === 'workshop-closed' && m.workshop === mine) this.set({ closed: true });
    if (m.type === 'move' && m.workshop === mine) this.set({ move: m.lesson });
    if (m.type === 'takeover' && m.workshop === mine) this.set({ takeover: { request: m.request, state: 'asked' } });
    if (m.type === 'takeover-state' && m.workshop === mine) {
      if (m.state === 'allowed' && this.state.takeover) this.set({ takeover: { ...this.state.takeover, state: 'allowed' } });
      if (m.state === 'denied' || m.state === 'ended') this.set({ takeover: null });
    }
  }

  /** The learner's answer to the instructor's request: nothing is allowed without it. */
  async answerTakeover(allow: boolean) {
    const t = this.state.takeover;
    if (!t) return;
    if (!allow) this.set({ takeover: null });
    await this.socket.request({ type: 'takeover-answer', request: t.request, allow }).catch(() => this.set({ takeover: null }));
  }

  async endTakeover() {
    this.set({ takeover: null });
    await this.socket.request({ type: 'takeover-end' }).catch(() => {});
  }

  async askHelp(text: string) {
    this.set({ help: 'sending', helpMessage: null });
    try {
      await this.socket.request({ type: 'help', ...(text.trim() ? { text: text.trim() } : {}) });
      this.set({ help: 'sent' });
    } catch (err) {
      this.set({ help: 'failed', helpMessage: errorMessage(err) });
    }
  }
}

// ---- the instructor's room ----

export interface RoomState {
  phase: 'connecting' | 'live' | 'forbidden' | 'no-key' | 'closed';
  room: WorkshopState | null;
  message: string | null;
}

/** The dashboard asks for the room at most this often (about four times a second). */
const REFRESH_GAP_MS = 250;

export class InstructorRoom extends SocketStore<RoomState> {
  /** A room request is out; another change meanwhile means one more. */
  private asking = false;
  private again = false;
  /** When the last room request went out, and the timer of the next one. */
  private lastAsk = 0;
  private soon: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly workshop: string,
    private readonly key: string | null,
  ) {
    super({ phase: key ? 'connecting' : 'no-key', room: null, message: null });
  }

  start() {
    if (this.key) super.start();
  }

  protected onHello() {
    if (!this.key) return;
    this.socket.request({ type: 'instructor', workshop: this.workshop, key: this.key }).then(
      () => this.refresh(),
      (err: unknown) => {
        const code = errorCode(err);
        if (code === 'forbidden') {
          this.set({ phase: 'forbidden', message: errorMessage(err) });
          this.socket.stop();
        } else this.set({ message: errorMessage(err) });
      },
    );
  }

  protected onMessage(m: AgentEvent) {
    if (m.type === 'workshop-changed' && m.workshop === this.workshop) this.refresh();
    // The workshop was closed, or a new instructor link replaced this one: the room says which.
    if (m.type === 'workshop-closed' && m.workshop === this.workshop) this.refresh();
  }

  stop() {
    if (this.soon) clearTimeout(this.soon);
    this.soon = null;
    super.stop();
  }

  /**
   * Ask for the room again. A burst of changes (a room finishing a task together) is one ask:
   * at most one every REFRESH_GAP_MS, never two at once, and none of them dropped.
   */
  refresh() {
    if (this.asking) {
      this.again = true;
      return;
    }
    if (this.soon) return;
    const wait = Math.max(0, this.lastAsk + REFRESH_GAP_MS - Date.now());
    this.soon = setTimeout(() => {
      this.soon = null;
      void this.ask();
    }, wait);
  }

  private async ask() {
    this.asking = true;
    this.again = false;
    this.lastAsk = Date.now();
    try {
      const room = await this.socket.request({ type: 'workshop-show', workshop: this.workshop });
      this.set({ phase: room.state === 'closed' ? 'closed' : 'live', room, message: null });
    } catch (err) {
      if (errorCode(err) === 'forbidden') {
        this.set({ phase: 'forbidden', message: errorMessage(err) });
        this.socket.stop();
        return;
      }
      // A lost connection asks again by itself once it is back (onHello).
      if (errorCode(err) !== 'connection') this.set({ message: errorMessage(err) });
    } finally {
      this.asking = false;
    }
    if (this.again) this.refresh();
  }

  private async act(fn: () => Promise<unknown>) {
    try {
      await fn();
      this.set({ message: null });
    } catch (err) {
      this.set({ message: errorMessage(err) });
    }
  }

  answer(help: string) {
    return this.act(() => this.socket.request({ type: 'help-answer', workshop: this.workshop, help }));
  }

  broadcast(text: string) {
    return this.act(() => this.socket.request({ type: 'broadcast', workshop: this.workshop, text }));
  }

  close() {
    return this.act(() => this.socket.request({ type: 'workshop-close', workshop: this.workshop }));
  }

  learnerLab(seat: string, action: 'reset' | 'extend' | 'close') {
    return this.act(() => this.socket.request({ type: 'learner-lab', workshop: this.workshop, seat, action }));
  }

  extendAll() {
    return this.act(() => this.socket.request({ type: 'workshop-extend', workshop: this.workshop }));
  }

  move(lesson: string) {
    return this.act(() => this.socket.request({ type: 'workshop-move', workshop: this.workshop, lesson }));
  }
}

// ---- the grid as CSV ----

/** One field, RFC 4180: quoted when it holds a comma, a quote or a line break. */
function field(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** learner,lesson,task,done_at: one row per learner and task, in the grid's order. */
export function roomCsv(room: WorkshopState): string {
  const rows = [['learner', 'lesson', 'task', 'done_at']];
  for (const l of room.learners) {
    const done = new Map(l.done.map((d) => [`${d.lesson}/${d.task}`, d.doneAt]));
    for (const p of room.plan) for (const t of p.tasks) rows.push([l.name, p.lesson, t.id, done.get(`${p.lesson}/${t.id}`) ?? '']);
  }
  return `${rows.map((r) => r.map(field).join(',')).join('\r\n')}\r\n`;
}

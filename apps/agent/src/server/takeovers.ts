// Take-overs: an instructor typing in a learner's terminal, only after the learner said Allow on
// their page, and only until the learner (or the instructor) ends it or the lab closes. While
// one is allowed, connections that instruct its workshop may write to that one lab; nobody else
// gains anything. Asked-for and allowed take-overs live in memory: an agent restart ends them.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';

export type TakeoverState = 'asked' | 'allowed' | 'denied' | 'ended';

interface Takeover {
  id: string;
  workshop: string;
  seat: string;
  lab: string;
  state: 'asked' | 'allowed';
}

interface Events {
  /** A learner is asked (their pages show the question). */
  asked: [workshop: string, seat: string, request: string];
  /** Where a take-over stands, for the learner's pages and the room's instructors. */
  state: [workshop: string, seat: string, lab: string | null, state: TakeoverState];
}

export class Takeovers extends EventEmitter<Events> {
  private readonly byId = new Map<string, Takeover>();

  constructor() {
    super();
    this.setMaxListeners(0);
  }

  private ofSeat(workshop: string, seat: string): Takeover | undefined {
    for (const t of this.byId.values()) if (t.workshop === workshop && t.seat === seat) return t;
    return undefined;
  }

  /** Ask the learner at `seat`, whose lab is `lab` (an earlier request for that seat is replaced). */
  ask(workshop: string, seat: string, lab: string): string {
    const old = this.ofSeat(workshop, seat);
    if (old?.state === 'allowed' && old.lab === lab) return old.id;
    if (old) this.byId.delete(old.id);
    const id = randomBytes(9).toString('hex').slice(0, 12);
    this.byId.set(id, { id, workshop, seat, lab, state: 'asked' });
    this.emit('asked', workshop, seat, id);
    this.emit('state', workshop, seat, lab, 'asked');
    return id;
  }

  /** The learner's answer to their own request; false if there is no such request for them. */
  answer(request: string, workshop: string, seat: string, allow: boolean): boolean {
    const t = this.byId.get(request);
    if (!t || t.workshop !== workshop || t.seat !== seat || t.state !== 'asked') return false;
    if (allow) t.state = 'allowed';
    else this.byId.delete(request);
    this.emit('state', workshop, seat, t.lab, allow ? 'allowed' : 'denied');
    return true;
  }

  end(workshop: string, seat: string): boolean {
    const t = this.ofSeat(workshop, seat);
    if (!t) return false;
    this.byId.delete(t.id);
    this.emit('state', workshop, seat, t.lab, 'ended');
    return true;
  }

  /** A lab closed: whatever was asked or allowed for it ends. */
  labClosed(lab: string) {
    for (const t of [...this.byId.values()]) if (t.lab === lab) this.end(t.workshop, t.seat);
  }

  /** May a connection that instructs these workshops write to this lab? */
  allows(lab: string, instructing: ReadonlySet<string>): boolean {
    for (const t of this.byId.values()) if (t.lab === lab && t.state === 'allowed' && instructing.has(t.workshop)) return true;
    return false;
  }

  of(workshop: string): Array<{ seat: string; state: 'asked' | 'allowed' }> {
    return [...this.byId.values()].filter((t) => t.workshop === workshop).map((t) => ({ seat: t.seat, state: t.state }));
  }
}

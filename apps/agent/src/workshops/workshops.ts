// Workshops: an instructor and a room of learners (docs/workshops.md). This owns what a workshop
// is and its rules: making one (an id, a join code nobody misreads, a secret instructor key kept
// only as its hash), when it is open, joining it (one seat per browser session, never more seats
// than it has), help requests and broadcasts. Everything lives in the store, so an agent restart
// keeps it. It tells whoever listens what changed; the server turns that into messages.
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { JOIN_CODE_ALPHABET, JOIN_CODE_LENGTH, normalizeJoinCode, type SeatInfo, type WorkshopInfo } from '@nslab/shared';
import { StoreError, type HelpRow, type SeatRow, type Store, type WorkshopRow } from '../store/index.js';
import { WorkshopError } from './errors.js';

export { WorkshopError } from './errors.js';
export type { HelpRow, SeatRow, WorkshopRow } from '../store/index.js';

export type WorkshopPhase = 'scheduled' | 'open' | 'closed';

export interface NewWorkshop {
  title: string;
  lessons: string[];
  seats: number;
  opens?: Date | null;
  closes?: Date | null;
}

interface Events {
  /** Something in the room changed (a join, a help request, a task done, a broadcast). */
  changed: [workshop: string];
  broadcast: [workshop: string, text: string, at: Date];
  /** The workshop closed; `elsewhere` when it was closed on another agent (relay.ts). */
  closed: [workshop: string, elsewhere?: boolean];
  /** The instructor sends the room on to a lesson. */
  move: [workshop: string, lesson: string];
  /** The instructor key was replaced: instructors who came in with the old one must leave. */
  rekeyed: [workshop: string];
  /**
   * An instructor acts on a learner's lab that another agent of the cluster holds: the agent that
   * holds it hears this through the store (relay.ts) and acts (server/workshop-labs.ts).
   */
  labAction: [workshop: string, lab: string, action: LabAction];
}

/** What an instructor may do to a learner's lab. */
export type LabAction = 'extend' | 'reset' | 'close';
export const LAB_ACTIONS: readonly LabAction[] = ['extend', 'reset', 'close'];

/** Browser sessions whose workshops are kept in memory at most. */
const MAX_CACHED_SESSIONS = 20_000;

const ID_ALPHABET = 'abcdefghijkmnpqrstuvwxyz23456789';

function randomId(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return s;
}

export function newJoinCode(): string {
  let s = '';
  for (let i = 0; i < JOIN_CODE_LENGTH; i++) s += JOIN_CODE_ALPHABET[randomInt(JOIN_CODE_ALPHABET.length)];
  return s;
}

const hashKey = (key: string) => createHash('sha256').update(`instructor:${key}`).digest('hex');

export function phaseOf(w: WorkshopRow, now = Date.now()): WorkshopPhase {
  if (w.closedAt || (w.closesAt && w.closesAt.getTime() <= now)) return 'closed';
  if (w.opensAt && w.opensAt.getTime() > now) return 'scheduled';
  return 'open';
}

export class Workshops extends EventEmitter<Events> {
  /** Browser session -> the workshops it has a seat in (filled as sessions are seen). */
  private readonly seatsBySession = new Map<string, Set<string>>();

  constructor(
    private readonly store: Store,
    /** Lesson ids a workshop may name. */
    private readonly lessonExists: (id: string) => boolean,
  ) {
    super();
    this.setMaxListeners(0);
  }

  info(w: WorkshopRow, taken: number): WorkshopInfo {
    return {
      id: w.id,
      title: w.title,
      lessons: w.lessons,
      seats: w.seats,
      taken,
      code: w.code,
      opensAt: w.opensAt?.toISOString() ?? null,
      closesAt: w.closesAt?.toISOString() ?? null,
      createdAt: w.createdAt.toISOString(),
      closedAt: w.closedAt?.toISOString() ?? null,
      state: phaseOf(w),
    };
  }

  /** Make a workshop. The instructor key is returned this once; the store keeps its hash. */
  async create(n: NewWorkshop): Promise<{ workshop: WorkshopRow; instructorKey: string }> {
    const unknown = n.lessons.filter((l) => !this.lessonExists(l));
    if (unknown.length) throw new WorkshopError('unknown-lesson', `no lesson ${unknown.join(', ')}`);
    if (new Set(n.lessons).size !== n.lessons.length) throw new WorkshopError('bad-message', 'lessons: each lesson once');
    if (n.opens && n.closes && n.closes.getTime() <= n.opens.getTime()) throw new WorkshopError('bad-message', 'closes: must be after opens');
    if (n.closes && n.closes.getTime() <= Date.now()) throw new WorkshopError('bad-message', 'closes: must be in the future');
    const instructorKey = randomBytes(24).toString('base64url');
    for (let attempt = 0; ; attempt++) {
      try {
        const workshop = await this.store.createWorkshop({
          id: randomId(10),
          title: n.title,
          lessons: n.lessons,
          seats: n.seats,
          code: newJoinCode(),
          instructorKeyHash: hashKey(instructorKey),
          opensAt: n.opens ?? null,
          closesAt: n.closes ?? null,
        });
        return { workshop, instructorKey };
      } catch (err) {
        // A code (or id) already taken: draw again.
        if (!(err instanceof StoreError && err.code === 'conflict') || attempt >= 5) throw err;
      }
    }
  }

  list(): Promise<WorkshopRow[]> {
    return this.store.listWorkshops();
  }

  async get(id: string): Promise<WorkshopRow> {
    const w = await this.store.getWorkshop(id);
    if (!w) throw new WorkshopError('forbidden', `no workshop ${id}`);
    return w;
  }

  /** The workshop, if `key` is its current instructor key (else 'forbidden', the same for a workshop that does not exist). */
  async asInstructor(id: string, key: string): Promise<WorkshopRow> {
    const w = await this.store.getWorkshop(id);
    const want = Buffer.from(w?.instructorKeyHash ?? hashKey(randomBytes(8).toString('hex')), 'hex');
    const got = Buffer.from(hashKey(key), 'hex');
    if (!w || !timingSafeEqual(want, got)) throw new WorkshopError('forbidden', 'this instructor link is not valid (it was replaced, or never existed)');
    return w;
  }

  async rekey(id: string): Promise<string> {
    const key = randomBytes(24).toString('base64url');
    if (!(await this.store.setInstructorKeyHash(id, hashKey(key)))) throw new WorkshopError('forbidden', `no workshop ${id}`);
    this.emit('rekeyed', id);
    return key;
  }

  async close(id: string): Promise<boolean> {
    const closed = await this.store.closeWorkshop(id);
    if (closed) {
      this.emit('closed', id);
      this.emit('changed', id);
    }
    return closed;
  }

  seats(id: string): Promise<SeatRow[]> {
    return this.store.seats(id);
  }

  /** Take (or take back) a seat with a join code. */
  async join(code: string, session: string, name: string): Promise<SeatInfo> {
    const canonical = normalizeJoinCode(code);
    const w = /^[A-Z0-9]{4,16}$/.test(canonical) ? await this.store.workshopByCode(canonical) : undefined;
    if (!w) throw new WorkshopError('bad-code', 'no workshop has this code: check it with your instructor');
    const phase = phaseOf(w);
    if (phase === 'scheduled') throw new WorkshopError('workshop-not-open', `this workshop opens at ${w.opensAt!.toISOString()}`);
    if (phase === 'closed') throw new WorkshopError('workshop-closed', 'this workshop is over');
    const r = await this.store.takeSeat(w.id, session, name, randomId(10));
    if (r === 'unknown') throw new WorkshopError('bad-code', 'no workshop has this code: check it with your instructor');
    if (r === 'full') throw new WorkshopError('workshop-full', `this workshop is full (${w.seats} seats)`);
    this.remember(session, w.id);
    this.emit('changed', w.id);
    return this.seatInfo(w, r.seat);
  }

  private seatInfo(w: WorkshopRow, s: SeatRow): SeatInfo {
    return {
      workshop: { id: w.id, title: w.title, lessons: w.lessons, state: phaseOf(w) },
      seat: { id: s.seatId, name: s.name },
      broadcast: w.broadcast ? { text: w.broadcast.text, at: w.broadcast.at.toISOString() } : null,
    };
  }

  private remember(session: string, workshop: string) {
    if (this.seatsBySession.size >= MAX_CACHED_SESSIONS && !this.seatsBySession.has(session)) this.seatsBySession.clear();
    let set = this.seatsBySession.get(session);
    if (!set) this.seatsBySession.set(session, (set = new Set()));
    set.add(workshop);
  }

  /** The session's seat in the workshop it joined last that is still open, if any. */
  async seatOf(session: string): Promise<{ workshop: WorkshopRow; seat: SeatRow; info: SeatInfo } | null> {
    const seats = await this.store.seatsOfSession(session);
    const known = new Set<string>();
    if (this.seatsBySession.size >= MAX_CACHED_SESSIONS && !this.seatsBySession.has(session)) this.seatsBySession.clear();
    this.seatsBySession.set(session, known);
    let found: { workshop: WorkshopRow; seat: SeatRow; info: SeatInfo } | null = null;
    for (const seat of seats) {
      known.add(seat.workshopId);
      if (found) continue;
      const w = await this.store.getWorkshop(seat.workshopId);
      if (w && phaseOf(w) !== 'closed') found = { workshop: w, seat, info: this.seatInfo(w, seat) };
    }
    return found;
  }

  /** The workshops a session has a seat in (from memory, else the store). */
  async workshopsOf(session: string): Promise<string[]> {
    let set = this.seatsBySession.get(session);
    if (!set) {
      // A cache, not a record: bounded, and filled again from the store as sessions come back.
      if (this.seatsBySession.size >= MAX_CACHED_SESSIONS) this.seatsBySession.clear();
      set = new Set((await this.store.seatsOfSession(session)).map((s) => s.workshopId));
      this.seatsBySession.set(session, set);
    }
    return [...set];
  }

  /** A learner's lab did something the room shows (a task done, a lab opened or closed). */
  touchSession(session: string) {
    void this.workshopsOf(session).then(
      (ids) => {
        for (const id of ids) this.emit('changed', id);
      },
      () => {},
    );
  }

  /** Send every learner of the room on to one of its lessons. */
  move(workshop: WorkshopRow, lesson: string) {
    if (!workshop.lessons.includes(lesson))
      throw new WorkshopError('unknown-lesson', `lesson ${lesson} is not one of this workshop's (${workshop.lessons.join(', ')})`);
    this.emit('move', workshop.id, lesson);
  }

  async askHelp(workshop: WorkshopRow, seat: SeatRow, text: string): Promise<HelpRow> {
    if (phaseOf(workshop) === 'closed') throw new WorkshopError('workshop-closed', 'this workshop is over');
    const h = await this.store.askHelp({ id: randomId(12), workshopId: workshop.id, seatId: seat.seatId, text });
    this.emit('changed', workshop.id);
    return h;
  }

  async answerHelp(workshop: string, help: string): Promise<boolean> {
    const ok = await this.store.answerHelp(workshop, help);
    if (ok) this.emit('changed', workshop);
    return ok;
  }

  openHelp(workshop: string): Promise<HelpRow[]> {
    return this.store.openHelp(workshop);
  }

  async broadcast(workshop: string, text: string): Promise<Date> {
    const at = new Date();
    if (!(await this.store.setBroadcast(workshop, text || null, at))) throw new WorkshopError('forbidden', `no workshop ${workshop}`);
    this.emit('broadcast', workshop, text, at);
    this.emit('changed', workshop);
    return at;
  }
}

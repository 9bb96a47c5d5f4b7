// A workshop's events on every agent of a cluster: what one agent's Workshops emits (a learner
// joined, asked for help, did a task; a broadcast; the room moved on, closed or was re-keyed; an
// instructor acted on a learner's lab)
// is published through the store, and what other agents published is emitted here as if it had
// happened here, so rooms (server/room.ts) follow a workshop whose learners sit on many agents.
import type { Notifier } from '../store/notify.js';
import { LAB_ACTIONS, type LabAction, type Workshops } from './workshops.js';

type Relayed =
  | { kind: 'changed'; workshop: string }
  | { kind: 'broadcast'; workshop: string; text: string; at: number }
  | { kind: 'closed'; workshop: string }
  | { kind: 'move'; workshop: string; lesson: string }
  | { kind: 'rekeyed'; workshop: string }
  | { kind: 'lab-action'; workshop: string; lab: string; action: LabAction };

const ID = /^[a-z0-9]{6,32}$/;

function parse(e: Record<string, unknown>): Relayed | null {
  if (typeof e.workshop !== 'string' || !ID.test(e.workshop)) return null;
  const workshop = e.workshop;
  switch (e.kind) {
    case 'changed':
    case 'closed':
    case 'rekeyed':
      return { kind: e.kind, workshop };
    case 'broadcast':
      return typeof e.text === 'string' && typeof e.at === 'number' && e.text.length <= 2000 ? { kind: 'broadcast', workshop, text: e.text, at: e.at } : null;
    case 'move':
      return typeof e.lesson === 'string' && e.lesson.length <= 64 ? { kind: 'move', workshop, lesson: e.lesson } : null;
    case 'lab-action':
      return typeof e.lab === 'string' && ID.test(e.lab) && LAB_ACTIONS.includes(e.action as LabAction)
        ? { kind: 'lab-action', workshop, lab: e.lab, action: e.action as LabAction }
        : null;
    default:
      return null;
  }
}

export class WorkshopRelay {
  /** Set while an event from another agent is emitted here: it is not published again. */
  private replaying = false;
  private readonly pending = new Set<string>();
  private flush: NodeJS.Timeout | null = null;

  constructor(
    private readonly workshops: Workshops,
    private readonly notifier: Notifier,
  ) {
    // A room that changes often (a class doing tasks) is published at most every 100 ms.
    workshops.on('changed', (workshop) => {
      if (this.replaying) return;
      this.pending.add(workshop);
      this.flush ??= setTimeout(() => {
        this.flush = null;
        for (const w of this.pending) notifier.publish({ kind: 'changed', workshop: w });
        this.pending.clear();
      }, 100);
    });
    workshops.on('broadcast', (workshop, text, at) => this.out({ kind: 'broadcast', workshop, text, at: at.getTime() }));
    workshops.on('closed', (workshop) => this.out({ kind: 'closed', workshop }));
    workshops.on('move', (workshop, lesson) => this.out({ kind: 'move', workshop, lesson }));
    workshops.on('rekeyed', (workshop) => this.out({ kind: 'rekeyed', workshop }));
    workshops.on('labAction', (workshop, lab, action) => this.out({ kind: 'lab-action', workshop, lab, action }));
    notifier.onEvent((e) => this.in(e));
  }

  private out(e: Relayed) {
    if (!this.replaying) this.notifier.publish(e);
  }

  private in(raw: Record<string, unknown>) {
    const e = parse(raw);
    if (!e) return;
    this.replaying = true;
    try {
      switch (e.kind) {
        case 'changed':
        case 'rekeyed':
          this.workshops.emit(e.kind, e.workshop);
          break;
        case 'closed':
          this.workshops.emit('closed', e.workshop, true);
          break;
        case 'broadcast':
          this.workshops.emit('broadcast', e.workshop, e.text, new Date(e.at));
          break;
        case 'move':
          this.workshops.emit('move', e.workshop, e.lesson);
          break;
        case 'lab-action':
          this.workshops.emit('labAction', e.workshop, e.lab, e.action);
          break;
      }
    } finally {
      this.replaying = false;
    }
  }

  stop() {
    if (this.flush) clearTimeout(this.flush);
    this.flush = null;
  }
}

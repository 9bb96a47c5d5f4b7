// What one connection follows of workshops: as a learner, its workshop's broadcasts and its
// closing; as an instructor, every change in the rooms it instructs (and losing them when their
// key is replaced). Listeners live as long as the connection; close() removes them all.
import type { ServerMessage } from '@nslab/shared';
import type { Workshops } from '../workshops/workshops.js';
import type { Takeovers, TakeoverState } from './takeovers.js';

export class Room {
  /** Workshops this connection instructs (the key it showed is still theirs). */
  readonly instructing = new Set<string>();
  /** The workshop this connection's learner has a seat in, once asked (`seat`). */
  private learnerOf: string | null = null;
  private seat: string | null = null;
  private readonly onChanged = (id: string) => {
    if (!this.instructing.has(id) || this.changedSoon.has(id)) return;
    // A burst of changes (thirty learners finishing a task at once) is one message.
    this.changedSoon.add(id);
    setTimeout(() => {
      this.changedSoon.delete(id);
      if (this.instructing.has(id)) this.send({ type: 'workshop-changed', workshop: id });
    }, 100).unref();
  };
  private readonly changedSoon = new Set<string>();
  private readonly onBroadcast = (id: string, text: string, at: Date) => {
    if (id === this.learnerOf) this.send({ type: 'broadcast', workshop: id, text, at: at.toISOString() });
  };
  private readonly onClosed = (id: string) => {
    if (id === this.learnerOf || this.instructing.has(id)) this.send({ type: 'workshop-closed', workshop: id });
  };
  private readonly onMove = (id: string, lesson: string) => {
    if (id === this.learnerOf) this.send({ type: 'move', workshop: id, lesson });
  };
  private readonly onAsked = (workshop: string, seat: string, request: string) => {
    if (workshop === this.learnerOf && seat === this.seat) this.send({ type: 'takeover', workshop, request });
  };
  private readonly onTakeover = (workshop: string, seat: string, lab: string | null, state: TakeoverState) => {
    if ((workshop === this.learnerOf && seat === this.seat) || this.instructing.has(workshop))
      this.send({ type: 'takeover-state', workshop, seat, lab, state });
  };
  private readonly onRekeyed = (id: string) => {
    if (this.instructing.delete(id)) this.send({ type: 'workshop-closed', workshop: id });
  };
  private listening = false;

  constructor(
    private readonly workshops: Workshops,
    private readonly takeovers: Takeovers,
    private readonly send: (msg: ServerMessage) => void,
  ) {}

  private listen() {
    if (this.listening) return;
    this.listening = true;
    this.workshops.on('changed', this.onChanged);
    this.workshops.on('broadcast', this.onBroadcast);
    this.workshops.on('closed', this.onClosed);
    this.workshops.on('rekeyed', this.onRekeyed);
    this.workshops.on('move', this.onMove);
    this.takeovers.on('asked', this.onAsked);
    this.takeovers.on('state', this.onTakeover);
  }

  instruct(workshop: string) {
    this.instructing.add(workshop);
    this.listen();
  }

  /** The workshop and seat of this connection's learner. */
  get learner(): { workshop: string; seat: string } | null {
    return this.learnerOf && this.seat ? { workshop: this.learnerOf, seat: this.seat } : null;
  }

  learn(workshop: string, seat: string) {
    this.learnerOf = workshop;
    this.seat = seat;
    this.listen();
  }

  close() {
    if (!this.listening) return;
    this.workshops.off('changed', this.onChanged);
    this.workshops.off('broadcast', this.onBroadcast);
    this.workshops.off('closed', this.onClosed);
    this.workshops.off('rekeyed', this.onRekeyed);
    this.workshops.off('move', this.onMove);
    this.takeovers.off('asked', this.onAsked);
    this.takeovers.off('state', this.onTakeover);
    this.instructing.clear();
  }
}

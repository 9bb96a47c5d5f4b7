// The workshop requests (docs/workshops.md): the token holder makes and lists workshops; an
// instructor (the key of the instructor link, shown once on this connection) runs their room;
// a browser session joins with a code and asks for help. Each checks who asks first.
import { remoteSessionLabs } from './session-labs.js';
import { EXTEND_MS, actOnLab } from './workshop-labs.js';
import type { SeatRow, SessionLab } from '../store/index.js';
import type { WorkshopState } from '@nslab/shared';
import type { Lab } from '../sandbox/lab.js';
import { WorkshopError, phaseOf, type WorkshopRow } from '../workshops/workshops.js';
import type { HandlerScope, Handler } from './scope.js';
import { ClientError } from './errors.js';

type WorkshopType =
  | 'workshop-create'
  | 'workshop-list'
  | 'workshop-show'
  | 'workshop-close'
  | 'workshop-rekey'
  | 'instructor'
  | 'join'
  | 'seat'
  | 'help'
  | 'help-answer'
  | 'broadcast'
  | 'workshop-watch'
  | 'takeover-request'
  | 'takeover-answer'
  | 'takeover-end'
  | 'workshop-move'
  | 'learner-lab'
  | 'workshop-extend';

export function tokenOnly({ access }: HandlerScope, what: string) {
  if (!access.isToken) throw new ClientError('forbidden', `${what} needs the agent's token (the nslab CLI has it)`);
}

/** The workshop, if this connection is its instructor (or the token holder). */
async function instructed(scope: HandlerScope, id: string): Promise<WorkshopRow> {
  const { ctx, access, room } = scope;
  if (!access.isToken && !room.instructing.has(id)) throw new WorkshopError('forbidden', 'you are not the instructor of this workshop');
  return ctx.workshops.get(id);
}

function learner(scope: HandlerScope): string {
  const sid = scope.access.owner;
  if (!sid) throw new ClientError('forbidden', 'only a learner in a browser can do this');
  return sid;
}

/** A learner's newest open lab (they may have a second tab on another lesson). */
function newestLab(scope: HandlerScope, session: string): Lab | undefined {
  return scope.ctx.manager
    .list()
    .filter((l) => l.owner === session)
    .at(-1);
}

/** Every open lab of the workshop's learners. */
async function roomLabs(scope: HandlerScope, w: WorkshopRow): Promise<Lab[]> {
  const sessions = new Set((await scope.ctx.workshops.seats(w.id)).map((s) => s.sessionId));
  return scope.ctx.manager.list().filter((l) => l.owner !== null && sessions.has(l.owner));
}

/** The room as the dashboard shows it: every seat with its lab, presence and tasks done. */
async function roomState(scope: HandlerScope, w: WorkshopRow): Promise<WorkshopState> {
  const { ctx } = scope;
  const [seats, help] = await Promise.all([ctx.workshops.seats(w.id), ctx.workshops.openHelp(w.id)]);
  const done = await ctx.store.progressOf(
    seats.map((s) => s.sessionId),
    w.lessons,
  );
  const doneBy = new Map<string, typeof done>();
  for (const d of done) doneBy.set(d.session, [...(doneBy.get(d.session) ?? []), d]);
  const now = performance.now();
  const wall = Date.now();
  const names = new Map(seats.map((s) => [s.seatId, s.name]));
  // Learners whose labs are on other agents (a store shared by several): as those agents wrote them.
  const elsewhere = ctx.sharedAgentId
    ? await remoteSessionLabs(
        ctx.store,
        seats.filter((s) => !newestLab(scope, s.sessionId)).map((s) => s.sessionId),
        ctx.sharedAgentId,
      )
    : new Map<string, SessionLab>();
  return {
    ...ctx.workshops.info(w, seats.length),
    plan: w.lessons.map((id) => {
      const entry = ctx.manager.catalogue.get(id);
      return { lesson: id, title: entry?.def.title ?? id, tasks: (entry?.tasks ?? []).map((t) => ({ id: t.id, title: t.title })) };
    }),
    learners: seats.map((s) => {
      const lab = newestLab(scope, s.sessionId) ?? null;
      const remote = lab ? undefined : elsewhere.get(s.sessionId);
      return {
        seat: s.seatId,
        name: s.name,
        joinedAt: s.joinedAt.toISOString(),
        lab: lab?.id ?? remote?.lab ?? null,
        lesson: lab?.lesson?.id ?? remote?.lesson ?? null,
        connected: lab ? ctx.presence.held(lab.id) : (remote?.connected ?? false),
        idleSince: lab ? new Date(wall - (now - lab.lastActiveAt)).toISOString() : remote ? new Date(remote.activeAt).toISOString() : null,
        limit: lab ? (ctx.labLimits.get(lab.id) ?? null) : null,
        done: (doneBy.get(s.sessionId) ?? []).map((d) => ({ lesson: d.lesson, task: d.task, doneAt: d.doneAt.toISOString() })),
        casts: ctx.recordings.list(w.id, s.seatId).map((c) => ({
          pane: c.pane,
          lab: c.lab,
          bytes: c.bytes,
          modifiedAt: c.modifiedAt.toISOString(),
          url: ctx.recordings.link(w.id, s.seatId, c.file),
        })),
      };
    }),
    takeovers: ctx.takeovers.of(w.id),
    help: help.map((h) => ({ id: h.id, seat: h.seatId, name: names.get(h.seatId) ?? '?', text: h.text, askedAt: h.askedAt.toISOString() })),
    broadcast: w.broadcast ? { text: w.broadcast.text, at: w.broadcast.at.toISOString() } : null,
  };
}

/**
 * A seat of the workshop and where its learner's newest lab is: here (`lab`), or on another agent
 * of the cluster (`remote`, from the store). Refused when the seat is not this workshop's, or
 * when the learner has no lab anywhere.
 */
async function seatLab(
  scope: HandlerScope,
  w: WorkshopRow,
  seatId: string,
): Promise<{ seat: SeatRow } & ({ lab: Lab; remote: null } | { lab: null; remote: SessionLab })> {
  const seat = (await scope.ctx.workshops.seats(w.id)).find((s) => s.seatId === seatId);
  if (!seat) throw new WorkshopError('forbidden', 'no such learner in this workshop');
  const lab = newestLab(scope, seat.sessionId);
  if (lab) return { seat, lab, remote: null };
  const { sharedAgentId, store } = scope.ctx;
  const remote = sharedAgentId ? (await remoteSessionLabs(store, [seat.sessionId], sharedAgentId)).get(seat.sessionId) : undefined;
  if (remote) return { seat, lab: null, remote };
  throw new ClientError('unknown-lab', `${seat.name} has no lab open right now`);
}

/** The seat of this connection's learner, as they asked it with `seat` or `join`. */
function mySeat(scope: HandlerScope): { workshop: string; seat: string } {
  const me = scope.room.learner;
  if (!scope.access.owner || !me) throw new WorkshopError('forbidden', 'only a learner with a seat can do this (ask for your seat first)');
  return me;
}

export const WORKSHOP_HANDLERS: { [T in WorkshopType]: Handler<T> } = {
  async 'workshop-create'(scope, msg) {
    tokenOnly(scope, 'making a workshop');
    const { workshop, instructorKey } = await scope.ctx.workshops.create({
      title: msg.title,
      lessons: msg.lessons,
      seats: msg.seats,
      opens: msg.opens ? new Date(msg.opens) : null,
      closes: msg.closes ? new Date(msg.closes) : null,
    });
    // Not the join code: whoever reads the log must not be able to join with it.
    scope.ctx.log('info', 'workshop created', { workshop: workshop.id, seats: workshop.seats });
    return { ...scope.ctx.workshops.info(workshop, 0), instructorKey };
  },

  async 'workshop-list'(scope) {
    tokenOnly(scope, 'listing workshops');
    const all = await scope.ctx.workshops.list();
    return Promise.all(all.map(async (w) => scope.ctx.workshops.info(w, (await scope.ctx.workshops.seats(w.id)).length)));
  },

  async 'workshop-show'(scope, msg) {
    return roomState(scope, await instructed(scope, msg.workshop));
  },

  async 'workshop-close'(scope, msg) {
    const w = await instructed(scope, msg.workshop);
    await scope.ctx.workshops.close(w.id);
    // Its learners' labs close with it.
    const labs = await roomLabs(scope, w);
    await Promise.all(labs.map((l) => scope.ctx.manager.close(l.id, 'the workshop was closed').catch(() => {})));
    return { closed: true as const, labs: labs.length };
  },

  async 'workshop-rekey'(scope, msg) {
    const w = await instructed(scope, msg.workshop);
    const instructorKey = await scope.ctx.workshops.rekey(w.id);
    // This connection asked for it: it stays the instructor.
    if (!scope.access.isToken) scope.room.instruct(w.id);
    return { instructorKey };
  },

  async instructor(scope, msg) {
    const { ok, retryInS } = scope.ctx.joinsPerAddress.take(scope.address);
    if (!ok) throw new ClientError('rate-limited', `too many tries from here; try again in ${retryInS} s`);
    const w = await scope.ctx.workshops.asInstructor(msg.workshop, msg.key);
    scope.room.instruct(w.id);
    return scope.ctx.workshops.info(w, (await scope.ctx.workshops.seats(w.id)).length);
  },

  async join(scope, msg) {
    const sid = learner(scope);
    // A code is guessed by trying: every try from an address counts, right or wrong.
    const { ok, retryInS } = scope.ctx.joinsPerAddress.take(scope.address);
    if (!ok) throw new ClientError('rate-limited', `too many tries from here; try again in ${retryInS} s`);
    const info = await scope.ctx.workshops.join(msg.code, sid, msg.name);
    scope.room.learn(info.workshop.id, info.seat.id);
    return info;
  },

  async seat(scope) {
    const sid = scope.access.owner;
    if (!sid) return null;
    const found = await scope.ctx.workshops.seatOf(sid);
    if (!found) return null;
    scope.room.learn(found.workshop.id, found.seat.seatId);
    return found.info;
  },

  async help(scope, msg) {
    const sid = learner(scope);
    if (!scope.ctx.helpPerSession.take(sid).ok) throw new ClientError('rate-limited', 'you asked for help a moment ago; the instructor has been told');
    const found = await scope.ctx.workshops.seatOf(sid);
    if (!found) throw new WorkshopError('forbidden', 'you have no seat in an open workshop');
    const h = await scope.ctx.workshops.askHelp(found.workshop, found.seat, msg.text?.trim() ?? '');
    return { help: h.id };
  },

  async 'help-answer'(scope, msg) {
    const w = await instructed(scope, msg.workshop);
    if (!(await scope.ctx.workshops.answerHelp(w.id, msg.help))) throw new ClientError('failed', 'no open help request with this id in this workshop');
    return { answered: true as const };
  },

  async broadcast(scope, msg) {
    const w = await instructed(scope, msg.workshop);
    if (phaseOf(w) === 'closed') throw new WorkshopError('workshop-closed', 'this workshop is over');
    await scope.ctx.workshops.broadcast(w.id, msg.text.trim());
    return { sent: (await scope.ctx.workshops.seats(w.id)).length };
  },

  async 'takeover-request'(scope, msg) {
    const w = await instructed(scope, msg.workshop);
    if (phaseOf(w) === 'closed') throw new WorkshopError('workshop-closed', 'this workshop is over');
    const { seat, lab, remote } = await seatLab(scope, w, msg.seat);
    if (remote)
      throw new ClientError(
        'unknown-lab',
        `${seat.name}'s lab is on another machine (${remote.agent}); take over from a dashboard on that machine, or watch their lab from here`,
      );
    return { request: scope.ctx.takeovers.ask(w.id, seat.seatId, lab.id) };
  },

  'takeover-answer'(scope, msg) {
    const me = mySeat(scope);
    if (!scope.ctx.takeovers.answer(msg.request, me.workshop, me.seat, msg.allow)) {
      throw new ClientError('failed', 'no open take-over request with this id for you');
    }
    return { state: msg.allow ? ('allowed' as const) : ('denied' as const) };
  },

  async 'takeover-end'(scope, msg) {
    // The learner ends their own; an instructor ends one in their room.
    if (msg.workshop && msg.seat) {
      const w = await instructed(scope, msg.workshop);
      return { ended: scope.ctx.takeovers.end(w.id, msg.seat) };
    }
    const me = mySeat(scope);
    return { ended: scope.ctx.takeovers.end(me.workshop, me.seat) };
  },

  async 'workshop-move'(scope, msg) {
    const w = await instructed(scope, msg.workshop);
    if (phaseOf(w) === 'closed') throw new WorkshopError('workshop-closed', 'this workshop is over');
    scope.ctx.workshops.move(w, msg.lesson);
    return { sent: (await scope.ctx.workshops.seats(w.id)).length };
  },

  async 'learner-lab'(scope, msg) {
    const w = await instructed(scope, msg.workshop);
    const { lab, remote } = await seatLab(scope, w, msg.seat);
    // A learner whose lab another agent holds: that agent hears it through the store and acts.
    if (remote) {
      scope.ctx.workshops.emit('labAction', w.id, remote.lab, msg.action);
      return { done: true as const, lab: remote.lab };
    }
    await actOnLab(scope.ctx.manager, lab.id, msg.action);
    scope.ctx.workshops.emit('changed', w.id);
    return { done: true as const, lab: lab.id };
  },

  async 'workshop-extend'(scope, msg) {
    const w = await instructed(scope, msg.workshop);
    const labs = await roomLabs(scope, w);
    for (const lab of labs) lab.extend(EXTEND_MS);
    // And the room's labs on other agents.
    let elsewhere = 0;
    if (scope.ctx.sharedAgentId) {
      const sessions = (await scope.ctx.workshops.seats(w.id)).map((s) => s.sessionId);
      const remote = await remoteSessionLabs(scope.ctx.store, sessions, scope.ctx.sharedAgentId);
      for (const row of remote.values()) {
        if (scope.ctx.manager.get(row.lab)) continue;
        scope.ctx.workshops.emit('labAction', w.id, row.lab, 'extend');
        elsewhere++;
      }
    }
    return { labs: labs.length + elsewhere };
  },

  async 'workshop-watch'(scope, msg) {
    const w = await instructed(scope, msg.workshop);
    const { lab, remote } = await seatLab(scope, w, msg.seat);
    // A learner whose lab is on another agent of the cluster: a link that agent accepts.
    if (remote) {
      const token = scope.ctx.shares.mintAcross(remote.lab);
      if (!token) throw new ClientError('unknown-lab', 'this lab is on another machine, and this agent has no cluster key to sign a link to it');
      return { token, lab: remote.lab };
    }
    return { token: scope.ctx.shares.mint(lab.id), lab: lab.id };
  },
};

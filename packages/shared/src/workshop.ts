// Workshops: an instructor and a room of learners on one agent (docs/workshops.md). The
// messages for making and running one, joining it, and the room's state as the instructor's
// dashboard shows it. The agent checks every one of these with the schemas below.
import { z } from 'zod';
import { lessonIdSchema, requestIdSchema as requestId } from './names.js';

/**
 * Join codes use letters and digits that cannot be mistaken for one another when read aloud or
 * off a projector: no 0/O, 1/I/L, 2/Z, 5/S, 6/G/b, 8/B. Eight of them (shown as
 * XXXX-XXXX) are 23^8, about 7.8e10 codes, against joins limited per address.
 */
export const JOIN_CODE_ALPHABET = 'ACDEFHJKMNPQRTUVWXY3479';
export const JOIN_CODE_LENGTH = 8;

/** Why a learner's lab closed when their instructor reset it: their page opens a fresh one. */
export const LAB_RESET_REASON = 'reset by the instructor';

/** A code as typed: any case, with spaces or dashes anywhere. Normalized to its canonical form. */
export function normalizeJoinCode(input: string): string {
  return input.toUpperCase().replace(/[\s-]+/g, '');
}

/** XXXX-XXXX, for reading aloud and showing. */
export function formatJoinCode(code: string): string {
  return code.length === JOIN_CODE_LENGTH ? `${code.slice(0, 4)}-${code.slice(4)}` : code;
}

export const workshopIdSchema = z.string().regex(/^[a-z0-9]{6,32}$/, 'a workshop id is 6 to 32 lowercase letters or digits');
export const seatIdSchema = z.string().regex(/^[a-z0-9]{6,32}$/, 'a seat id is 6 to 32 lowercase letters or digits');
const isoTime = z.string().datetime({ offset: true, message: 'a time in ISO 8601 (2026-12-01T09:00:00Z)' });
/** One line of text a person wrote: no control characters. */
const line = (max: number) =>
  z
    .string()
    .max(max, `at most ${max} characters`)
    .regex(/^[^\p{Cc}]*$/u, 'one line of text, no control characters');

export const displayNameSchema = line(40)
  .transform((s) => s.trim())
  .pipe(z.string().min(1, 'a display name is needed'));

export const WorkshopMessages = [
  /** Make a workshop (the token holder). The answer carries the instructor key, once. */
  z.object({
    type: z.literal('workshop-create'),
    id: requestId,
    title: line(120)
      .transform((s) => s.trim())
      .pipe(z.string().min(1, 'a title is needed')),
    lessons: z.array(lessonIdSchema).min(1, 'at least one lesson').max(20, 'at most 20 lessons'),
    seats: z.number().int().min(1).max(500),
    opens: isoTime.optional(),
    closes: isoTime.optional(),
  }),
  /** Every workshop (the token holder). */
  z.object({ type: z.literal('workshop-list'), id: requestId }),
  /** A workshop's room: learners, their tasks, help requests (the token holder or its instructor). */
  z.object({ type: z.literal('workshop-show'), id: requestId, workshop: workshopIdSchema }),
  /** Close a workshop: no more joins, its learners' labs close (the token holder or its instructor). */
  z.object({ type: z.literal('workshop-close'), id: requestId, workshop: workshopIdSchema }),
  /** Replace the instructor key: every earlier instructor link stops working. */
  z.object({ type: z.literal('workshop-rekey'), id: requestId, workshop: workshopIdSchema }),
  /**
   * Become this workshop's instructor on this connection, with the key from the instructor
   * link. The connection is then told of every change in the room (`workshop-changed`).
   */
  z.object({
    type: z.literal('instructor'),
    id: requestId,
    workshop: workshopIdSchema,
    key: z.string().min(1).max(128),
  }),
  /** Take a seat with a join code (a browser session). Joining again gives the same seat. */
  z.object({
    type: z.literal('join'),
    id: requestId,
    code: z.string().min(1).max(32),
    name: displayNameSchema,
  }),
  /**
   * This browser session's seat in an open workshop, if it has one; the connection then gets
   * the workshop's broadcasts.
   */
  z.object({ type: z.literal('seat'), id: requestId }),
  /** A learner asks for help (an optional line of text). */
  z.object({ type: z.literal('help'), id: requestId, text: line(280).optional() }),
  /** The instructor marks a help request answered. */
  z.object({
    type: z.literal('help-answer'),
    id: requestId,
    workshop: workshopIdSchema,
    help: z.string().regex(/^[a-z0-9]{6,32}$/, 'a help request id'),
  }),
  /** The instructor tells every learner something (a banner on their page); empty text clears it. */
  z.object({ type: z.literal('broadcast'), id: requestId, workshop: workshopIdSchema, text: line(500) }),
  /** A read-only link to a learner's current lab, for the instructor's watch view. */
  z.object({ type: z.literal('workshop-watch'), id: requestId, workshop: workshopIdSchema, seat: seatIdSchema }),
  /**
   * Take-over: the instructor asks to type in a learner's terminal. Nothing changes until the
   * learner answers Allow on their page; the learner can end it at any time.
   */
  z.object({ type: z.literal('takeover-request'), id: requestId, workshop: workshopIdSchema, seat: seatIdSchema }),
  /** The learner answers a take-over request (their own, by its id). */
  z.object({
    type: z.literal('takeover-answer'),
    id: requestId,
    request: z.string().regex(/^[a-z0-9]{6,32}$/),
    allow: z.boolean(),
  }),
  /** The learner (or the instructor) ends a take-over. */
  z.object({
    type: z.literal('takeover-end'),
    id: requestId,
    workshop: workshopIdSchema.optional(),
    seat: seatIdSchema.optional(),
  }),
  /** Send every learner of the room a link to a lesson (`move`: "go on to lesson X"). */
  z.object({ type: z.literal('workshop-move'), id: requestId, workshop: workshopIdSchema, lesson: lessonIdSchema }),
  /** A learner's lab, by the instructor: a fresh one (`reset`), more time (`extend`), or closed (`close`). */
  z.object({
    type: z.literal('learner-lab'),
    id: requestId,
    workshop: workshopIdSchema,
    seat: seatIdSchema,
    action: z.enum(['reset', 'extend', 'close']),
  }),
  /** Every learner's lab given more time. */
  z.object({ type: z.literal('workshop-extend'), id: requestId, workshop: workshopIdSchema }),
] as const;

export const WorkshopInfo = z.object({
  id: z.string(),
  title: z.string(),
  lessons: z.array(z.string()),
  seats: z.number(),
  /** Seats taken. */
  taken: z.number(),
  /** The join code, canonical (formatJoinCode shows it as XXXX-XXXX). */
  code: z.string(),
  opensAt: z.string().nullable(),
  closesAt: z.string().nullable(),
  createdAt: z.string(),
  closedAt: z.string().nullable(),
  /** scheduled: before opensAt; open: learners may join; closed: after closesAt or closed. */
  state: z.enum(['scheduled', 'open', 'closed']),
});
export type WorkshopInfo = z.infer<typeof WorkshopInfo>;

export const WorkshopLearner = z.object({
  seat: z.string(),
  name: z.string(),
  joinedAt: z.string(),
  /** The learner's open lab and its lesson (null: none open now). */
  lab: z.string().nullable(),
  lesson: z.string().nullable(),
  /** A page of theirs is connected to their lab. */
  connected: z.boolean(),
  /** Since when nothing was typed in their lab (null: no lab). */
  idleSince: z.string().nullable(),
  /** The last limit their lab hit (its memory or its number of processes), if any. */
  limit: z.enum(['memory', 'pids']).nullable(),
  done: z.array(z.object({ lesson: z.string(), task: z.string(), doneAt: z.string() })),
  /** Their panes' recordings (asciicast v2), newest first, each with a signed link valid an hour. */
  casts: z.array(z.object({ pane: z.string(), lab: z.string(), bytes: z.number(), url: z.string(), modifiedAt: z.string() })),
});
export type WorkshopLearner = z.infer<typeof WorkshopLearner>;

export const HelpRequest = z.object({ id: z.string(), seat: z.string(), name: z.string(), text: z.string(), askedAt: z.string() });
export type HelpRequest = z.infer<typeof HelpRequest>;

export const Broadcast = z.object({ text: z.string(), at: z.string() });

export const WorkshopState = WorkshopInfo.extend({
  /** Every lesson of the workshop, in order, with its tasks. */
  plan: z.array(z.object({ lesson: z.string(), title: z.string(), tasks: z.array(z.object({ id: z.string(), title: z.string() })) })),
  learners: z.array(WorkshopLearner),
  /** Take-overs asked for or allowed now, by seat. */
  takeovers: z.array(z.object({ seat: z.string(), state: z.enum(['asked', 'allowed']) })),
  /** Open help requests, oldest first. */
  help: z.array(HelpRequest),
  broadcast: Broadcast.nullable(),
});
export type WorkshopState = z.infer<typeof WorkshopState>;

export const SeatInfo = z.object({
  workshop: z.object({ id: z.string(), title: z.string(), lessons: z.array(z.string()), state: z.enum(['scheduled', 'open', 'closed']) }),
  seat: z.object({ id: z.string(), name: z.string() }),
  broadcast: Broadcast.nullable(),
});
export type SeatInfo = z.infer<typeof SeatInfo>;

export const WORKSHOP_RESULTS = {
  'workshop-create': WorkshopInfo.extend({ instructorKey: z.string() }),
  'workshop-list': z.array(WorkshopInfo),
  'workshop-show': WorkshopState,
  'workshop-close': z.object({ closed: z.literal(true), labs: z.number() }),
  'workshop-rekey': z.object({ instructorKey: z.string() }),
  instructor: WorkshopInfo,
  join: SeatInfo,
  seat: SeatInfo.nullable(),
  help: z.object({ help: z.string() }),
  'help-answer': z.object({ answered: z.literal(true) }),
  broadcast: z.object({ sent: z.number() }),
  'workshop-watch': z.object({ token: z.string(), lab: z.string() }),
  'takeover-request': z.object({ request: z.string() }),
  'takeover-answer': z.object({ state: z.enum(['allowed', 'denied']) }),
  'takeover-end': z.object({ ended: z.boolean() }),
  'workshop-move': z.object({ sent: z.number() }),
  'learner-lab': z.object({ done: z.literal(true), lab: z.string().nullable() }),
  'workshop-extend': z.object({ labs: z.number() }),
} as const;

/** Pushed by the agent about workshops. */
export const WorkshopServerMessages = [
  /** To the instructor: something in the room changed; ask `workshop-show` again. */
  z.object({ type: z.literal('workshop-changed'), workshop: z.string() }),
  /** To the learners: the instructor's message (empty text: taken down). */
  z.object({ type: z.literal('broadcast'), workshop: z.string(), text: z.string(), at: z.string() }),
  /** To the learners: the workshop was closed. */
  z.object({ type: z.literal('workshop-closed'), workshop: z.string() }),
  /** To a learner: the instructor asks to type in their terminal (answer with takeover-answer). */
  z.object({ type: z.literal('takeover'), workshop: z.string(), request: z.string() }),
  /** To the learner and the instructor: where a take-over stands now. */
  z.object({
    type: z.literal('takeover-state'),
    workshop: z.string(),
    seat: z.string(),
    lab: z.string().nullable(),
    state: z.enum(['asked', 'allowed', 'denied', 'ended']),
  }),
  /** To the learners: the instructor moves the room on to a lesson. */
  z.object({ type: z.literal('move'), workshop: z.string(), lesson: z.string() }),
] as const;

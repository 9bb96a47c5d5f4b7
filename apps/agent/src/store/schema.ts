// The store's tables as the query builder sees them, and the checks every input passes before
// any SQL runs. Times are stored as integer milliseconds since the epoch (BIGINT), the one
// representation both engines hold and compare exactly.
import type { Generated } from 'kysely';
import { z } from 'zod';
import { paneNameSchema } from '@nslab/shared';
import { AGENT_ID } from '@nslab/shared/cluster';
import { StoreError } from './errors.js';

export interface SchemaMigrationsTable {
  version: number;
  name: string;
  checksum: string;
  applied_at: number;
}

export interface TaskProgressTable {
  session_id: string;
  lesson_id: string;
  task_id: string;
  done_at: number;
}

export interface AgentSecretTable {
  name: string;
  value: string;
  updated_at: number;
}

export interface WorkshopTable {
  id: string;
  title: string;
  /** A JSON array of lesson ids. */
  lessons: string;
  seats: number;
  code: string;
  instructor_key_hash: string;
  opens_at: number | null;
  closes_at: number | null;
  created_at: number;
  closed_at: number | null;
  broadcast_text: string | null;
  broadcast_at: number | null;
}

export interface WorkshopSeatTable {
  workshop_id: string;
  seat_id: string;
  session_id: string;
  name: string;
  joined_at: number;
}

export interface HelpRequestTable {
  id: string;
  workshop_id: string;
  seat_id: string;
  text: string;
  asked_at: number;
  answered_at: number | null;
}

export interface ApiKeyTable {
  id: string;
  name: string;
  key_hash: string;
  /** A JSON array of origins. */
  origins: string;
  created_at: number;
  revoked_at: number | null;
}

export interface PortalUserTable {
  session_id: string;
  source: string;
  user_id: string;
  name: string | null;
  lesson: string;
  lang: string;
  return_url: string | null;
  created_at: number;
  updated_at: number;
}

export interface LaunchTable {
  token_hash: string;
  key_id: string;
  user_id: string;
  lesson: string;
  lang: string;
  name: string | null;
  return_url: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface WebhookEndpointTable {
  id: string;
  key_id: string;
  url: string;
  secret: string;
  created_at: number;
  removed_at: number | null;
}

export interface OutboxTable {
  /** Generated: absent on insert. */
  seq: Generated<number>;
  id: string;
  kind: string;
  target: string;
  ordering_key: string;
  event: string;
  /** JSON. */
  payload: string;
  created_at: number;
  next_at: number;
  attempts: number;
  done_at: number | null;
  failed_at: number | null;
  last_error: string | null;
}

export interface OutboxAttemptTable {
  seq: number;
  n: number;
  at: number;
  status: number | null;
  error: string | null;
  ms: number;
}

export interface LtiLoginTable {
  state: string;
  nonce: string;
  platform: string;
  target_link_uri: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface LtiGradeTargetTable {
  session_id: string;
  lesson_id: string;
  platform: string;
  lineitem: string;
  user_sub: string;
  updated_at: number;
}

export interface ClusterLabTable {
  lab_id: string;
  session_id: string;
  lesson_id: string;
  agent_id: string;
  /** 1 while a page holds the lab, else 0. */
  connected: number;
  active_at: number;
  created_at: number;
  /** When the lab closes by its lifetime (as of the row's writing), or null. */
  closes_at: number | null;
  /** JSON: [{ name, running }] */
  panes: string;
  updated_at: number;
}

export interface Database {
  api_key: ApiKeyTable;
  portal_user: PortalUserTable;
  launch: LaunchTable;
  webhook_endpoint: WebhookEndpointTable;
  outbox: OutboxTable;
  outbox_attempt: OutboxAttemptTable;
  lti_login: LtiLoginTable;
  lti_grade_target: LtiGradeTargetTable;
  schema_migrations: SchemaMigrationsTable;
  task_progress: TaskProgressTable;
  agent_secret: AgentSecretTable;
  workshop: WorkshopTable;
  workshop_seat: WorkshopSeatTable;
  help_request: HelpRequestTable;
  cluster_lab: ClusterLabTable;
}

// A browser session id is opaque to the store, but it is an identifier, not text: printable
// ASCII without spaces, so a forged value (control characters, NUL, another script, a
// megabyte) is refused here rather than stored.
export const sessionId = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'at most 128 characters')
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

// Lesson and task ids follow the lesson format (lowercase words with dashes); the store
// allows a little more length than the format does, never other characters.
const word = (what: string) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(64, 'at most 64 characters')
    .regex(/^[a-z][a-z0-9-]*$/, `${what} is a lowercase word with dashes`);
export const lessonId = word('a lesson id');
export const taskId = word('a task id');

// Milliseconds since the epoch, from 2000 to the end of year 9999.
const MIN_MS = Date.UTC(2000, 0, 1);
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
export const instant = z
  .union([z.date(), z.number()])
  .transform((v) => (v instanceof Date ? v.getTime() : v))
  .pipe(
    z
      .number()
      .refine((n) => Number.isInteger(n), 'whole milliseconds')
      .refine((n) => n >= MIN_MS, 'before the year 2000')
      .refine((n) => n <= MAX_MS, 'after the year 9999'),
  );

/** An agent id among several (a lowercase host name, as @nslab/shared/cluster's AGENT_ID). */
export const agentIdText = z.string().regex(AGENT_ID, 'a lowercase host name');

export const secretName = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'at most 64 characters')
  .regex(/^[a-z][a-z0-9_.-]*$/, 'lowercase letters, digits, dots, dashes and underscores');

export const secretValue = z
  .string()
  .min(1, 'must not be empty')
  .max(16384, 'at most 16384 characters')
  .regex(/^[^\0]*$/, 'no NUL characters');

// --- workshops ---------------------------------------------------------------------------

// Workshop, seat and help request ids are made by the agent: short lowercase tokens.
export const entityId = z.string().regex(/^[a-z0-9]{6,32}$/, '6 to 32 lowercase letters or digits');

// A lab's panes as another agent lists them: names as lessons give them.
export const labPanes = z.array(z.strictObject({ name: paneNameSchema, running: z.boolean() })).max(16, 'at most 16 panes');

// A join code in its canonical form (the caller normalizes what a person typed).
export const joinCode = z.string().regex(/^[A-Z0-9]{4,16}$/, '4 to 16 capital letters or digits');

/** A SHA-256 hash in hex: the store never sees an instructor key itself. */
export const keyHash = z.string().regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits (a SHA-256 hash)');

// Text a person wrote, shown to others: one line, no control characters (NUL included), no
// lone surrogates (they cannot be stored as UTF-8).
const line = (min: number, max: number) => {
  let s = z.string();
  if (min > 0) s = s.min(min, 'must not be empty');
  return s
    .max(max, `at most ${max} characters`)
    .regex(/^[^\p{Cc}\p{Cs}]*$/u, 'one line of text, no control characters')
    .refine((v) => min === 0 || v.trim().length > 0, 'must not be blank');
};
export const workshopTitle = line(1, 120);
export const seatName = line(1, 40);
export const helpText = line(0, 280);
/** As long as the protocol's broadcast message allows. */
export const broadcastText = line(0, 500);

export const lessonList = z.array(lessonId).min(1, 'at least one lesson').max(20, 'at most 20 lessons');
export const seatCount = z.number().int('a whole number').min(1, 'at least 1 seat').max(500, 'at most 500 seats');
/** An optional time: absent or null is none. */
export const maybeInstant = instant.nullish().transform((v) => v ?? null);
export const sessionList = z.array(sessionId).max(1000, 'at most 1000 sessions');
export const lessonIdList = z.array(lessonId).max(1000, 'at most 1000 lessons');
export const anObject = z.looseObject({});

// --- portals ------------------------------------------------------------------------------

/** An API key's name: what the operator calls the portal. */
export const keyName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, '1 to 40 lowercase letters, digits, dashes or underscores');
/** scheme://host[:port] with no path. */
export const origin = z
  .string()
  .max(200, 'at most 200 characters')
  .regex(/^https?:\/\/[^/\s?#]+$/, 'an origin: scheme://host[:port], no path');
export const originList = z.array(origin).max(20, 'at most 20 origins');
/** A portal's opaque id for its learner: printable, one line. */
export const portalUserId = z
  .string()
  .min(1, 'must not be empty')
  .max(256, 'at most 256 characters')
  .regex(/^[^\p{Cc}\p{Cs}]*$/u, 'no control characters');
/** Where a user, session or key comes from: 'key:<id>' or 'lti:<platform id>'. */
export const userSource = z.string().regex(/^(key|lti):[a-z0-9]{6,32}$/, "'key:<id>' or 'lti:<id>'");
export const langCode = z.enum(['en', 'zh']);
/** An absolute http(s) URL a person or a server is sent to. */
export const httpUrl = z
  .string()
  .max(2048, 'at most 2048 characters')
  .refine((u) => {
    try {
      const p = new URL(u);
      return p.protocol === 'https:' || p.protocol === 'http:';
    } catch {
      return false;
    }
  }, 'an absolute http(s) URL');
export const displayName = line(1, 80);
export const maybeDisplayName = displayName.nullish().transform((v) => v ?? null);
export const maybeHttpUrl = httpUrl.nullish().transform((v) => v ?? null);
/** A hash or random token, hex or base64url. */
export const opaqueToken = z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, '16 to 128 letters, digits, dashes or underscores');
export const outboxKind = z.enum(['webhook', 'lti-score']);
export const outboxTarget = z.string().regex(/^[a-z0-9]{6,32}$/, 'an endpoint or platform id');
export const orderingKey = z.string().min(1).max(300, 'at most 300 characters');
export const eventName = z.string().regex(/^[a-z][a-z0-9.-]{0,63}$/, 'an event name');
export const payloadJson = z.string().min(2).max(65536, 'at most 64 KiB of JSON');

// Both engines may hand a BIGINT back as a number or a string (or a bigint): always a Date here.
export const ms = (v: unknown) => new Date(Number(v));
export const msOrNull = (v: unknown) => (v === null || v === undefined ? null : ms(v));

/** Check one argument; a refusal names the operation, the argument and the reason. */
export function check<T extends z.ZodType>(op: string, arg: string, schema: T, value: unknown): z.output<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const why = issue?.code === 'invalid_type' || issue?.code === 'invalid_union' ? `expected ${describe(schema)}` : (issue?.message ?? 'invalid');
  throw new StoreError('invalid', `${op}: ${arg}: ${why}`, '');
}

function describe(schema: z.ZodType): string {
  if (schema === instant) return 'a Date or milliseconds since the epoch';
  if (schema === maybeInstant) return 'a Date, milliseconds since the epoch, or null';
  if (schema === seatCount) return 'a whole number';
  if (schema === lessonList || schema === sessionList || schema === lessonIdList) return 'an array of strings';
  if (schema === anObject) return 'an object';
  return 'a string';
}

// The store's tables as the query builder sees them, and the checks every input passes before
// any SQL runs. Times are stored as integer milliseconds since the epoch (BIGINT), the one
// representation both engines hold and compare exactly.
import { z } from 'zod';
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

export interface Database {
  schema_migrations: SchemaMigrationsTable;
  task_progress: TaskProgressTable;
  agent_secret: AgentSecretTable;
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
  return 'a string';
}

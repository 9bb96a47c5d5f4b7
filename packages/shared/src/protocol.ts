// The WebSocket protocol between the agent and its clients (browser, CLI). Every message that
// crosses this boundary is parsed with these schemas. See docs/protocol.md.
import { z } from 'zod';
import { NAMESPACE_TYPES } from './namespaces.js';
import { TaskStatus } from './lesson-format.js';

export const PROTOCOL_VERSION = 1;
export const WS_PATH = '/api/ws';
/** Largest text message a client may send. */
export const MAX_CLIENT_MESSAGE_BYTES = 256 * 1024;

const labId = z.string().regex(/^[a-z0-9]{6,32}$/, 'a lab id is 6 to 32 lowercase letters or digits');
const paneName = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a pane name is a lowercase word');
const requestId = z.union([z.number().int(), z.string().max(64)]);
const cols = z.number().int().min(2).max(1000);
const rows = z.number().int().min(1).max(500);

export const ClientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth'), id: requestId.optional(), token: z.string().min(1).max(512) }),
  z.object({ type: z.literal('lessons'), id: requestId }),
  z.object({ type: z.literal('open'), id: requestId, lesson: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'a lesson id is a lowercase word') }),
  z.object({ type: z.literal('list'), id: requestId }),
  z.object({ type: z.literal('close'), id: requestId, lab: labId }),
  z.object({
    type: z.literal('exec'),
    id: requestId,
    lab: labId,
    pane: paneName,
    argv: z.array(z.string().max(64 * 1024)).min(1).max(1024),
    /** Standard input for the command, base64. */
    stdin: z.string().max(MAX_CLIENT_MESSAGE_BYTES).optional(),
    timeoutMs: z.number().int().min(1).max(600_000).optional(),
  }),
  z.object({ type: z.literal('attach'), id: requestId, lab: labId, pane: paneName, cols, rows }),
  z.object({ type: z.literal('detach'), id: requestId.optional(), lab: labId, pane: paneName }),
  z.object({ type: z.literal('input'), id: requestId.optional(), lab: labId, pane: paneName, data: z.string().max(64 * 1024) }),
  z.object({ type: z.literal('resize'), id: requestId.optional(), lab: labId, pane: paneName, cols, rows }),
  z.object({ type: z.literal('restart'), id: requestId, lab: labId, pane: paneName }),
  /** Subscribe to a lab's task statuses and namespace picture (pushed as they change). */
  z.object({ type: z.literal('watch'), id: requestId, lab: labId }),
  z.object({ type: z.literal('unwatch'), id: requestId.optional(), lab: labId }),
  /** Run the lab's task checks now. */
  z.object({ type: z.literal('check'), id: requestId, lab: labId }),
  /** The namespace picture now. */
  z.object({ type: z.literal('inspect'), id: requestId, lab: labId }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

export const PaneInfo = z.object({
  name: z.string(),
  unshare: z.array(z.string()),
  running: z.boolean(),
  pid: z.number().nullable(),
  exitCode: z.number().nullable(),
  signal: z.number().nullable(),
});
export type PaneInfo = z.infer<typeof PaneInfo>;

export const LabInfo = z.object({
  id: z.string(),
  lesson: z.string(),
  createdAt: z.string(),
  hostname: z.string(),
  uidBase: z.number(),
  panes: z.array(PaneInfo),
});
export type LabInfo = z.infer<typeof LabInfo>;

export const ExecResult = z.object({
  exitCode: z.number().nullable(),
  signal: z.number().nullable(),
  /** base64 */
  stdout: z.string(),
  stderr: z.string(),
  truncated: z.boolean(),
  timedOut: z.boolean(),
});
export type ExecResult = z.infer<typeof ExecResult>;

const NsInodes = z.object(Object.fromEntries(NAMESPACE_TYPES.map((t) => [t, z.number()])) as Record<(typeof NAMESPACE_TYPES)[number], z.ZodNumber>);

/**
 * A lab as the kernel sees it, from inside: every process of the lab with its namespaces. Pids
 * are as the lab sees them (its own PID namespace); `nspid` lists a process's pid in each PID
 * namespace from the lab's down (NSpid), so [5, 1] is PID 5 in the lab and PID 1 in a child.
 */
export const Picture = z.object({
  /** The lab's own namespaces (those of its init). */
  lab: NsInodes,
  processes: z.array(
    z.object({
      pid: z.number(),
      ppid: z.number(),
      comm: z.string(),
      nspid: z.array(z.number()),
      ns: NsInodes,
      /** The pane whose shell this process is or descends from. */
      pane: z.string().nullable(),
    }),
  ),
  panes: z.array(z.object({ name: z.string(), pid: z.number().nullable() })),
});
export type Picture = z.infer<typeof Picture>;

export const ServerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), version: z.number(), authenticated: z.boolean() }),
  z.object({ type: z.literal('result'), id: requestId, data: z.unknown() }),
  z.object({ type: z.literal('error'), id: requestId.nullable(), code: z.string(), message: z.string() }),
  z.object({ type: z.literal('pane-exit'), lab: z.string(), pane: z.string(), exitCode: z.number().nullable(), signal: z.number().nullable() }),
  z.object({ type: z.literal('pane-start'), lab: z.string(), pane: z.string() }),
  z.object({ type: z.literal('lab-closed'), lab: z.string(), reason: z.string() }),
  z.object({ type: z.literal('tasks'), lab: z.string(), tasks: z.array(TaskStatus) }),
  z.object({ type: z.literal('picture'), lab: z.string(), picture: Picture }),
]);
export type ServerMessage = z.infer<typeof ServerMessage>;

/** Error codes the agent sends. */
export type ErrorCode =
  | 'bad-json'
  | 'bad-message'
  | 'too-large'
  | 'unauthenticated'
  | 'unknown-lesson'
  | 'unknown-lab'
  | 'unknown-pane'
  | 'pane-not-running'
  | 'limit'
  | 'failed';

// Binary frames: [opcode u8][key length u8][key utf8 "lab/pane"][payload]
export const FRAME_OUTPUT = 0x01;

export function encodeOutputFrame(key: string, payload: Uint8Array): Uint8Array {
  const k = new TextEncoder().encode(key);
  const out = new Uint8Array(2 + k.length + payload.length);
  out[0] = FRAME_OUTPUT;
  out[1] = k.length;
  out.set(k, 2);
  out.set(payload, 2 + k.length);
  return out;
}

export function decodeFrame(buf: Uint8Array): { op: number; key: string; payload: Uint8Array } | null {
  if (buf.length < 2) return null;
  const len = buf[1]!;
  if (buf.length < 2 + len) return null;
  return { op: buf[0]!, key: new TextDecoder().decode(buf.subarray(2, 2 + len)), payload: buf.subarray(2 + len) };
}

/** Turn a zod error into one line that names the field and what was wrong. */
export function describeZodError(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : 'message'}: ${i.message}`)
    .join('; ');
}

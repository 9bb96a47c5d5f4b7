// The WebSocket protocol between the agent and its clients (browser, CLI). Every message that
// crosses this boundary is parsed with these schemas. See docs/protocol.md.
import { z } from 'zod';
import { LESSON_IDS } from './lessons.js';

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
  z.object({ type: z.literal('open'), id: requestId, lesson: z.enum(LESSON_IDS) }),
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

export const ServerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), version: z.number(), authenticated: z.boolean() }),
  z.object({ type: z.literal('result'), id: requestId, data: z.unknown() }),
  z.object({ type: z.literal('error'), id: requestId.nullable(), code: z.string(), message: z.string() }),
  z.object({ type: z.literal('pane-exit'), lab: z.string(), pane: z.string(), exitCode: z.number().nullable(), signal: z.number().nullable() }),
  z.object({ type: z.literal('pane-start'), lab: z.string(), pane: z.string() }),
  z.object({ type: z.literal('lab-closed'), lab: z.string(), reason: z.string() }),
]);
export type ServerMessage = z.infer<typeof ServerMessage>;

/** Error codes the agent sends. */
export type ErrorCode =
  | 'bad-json'
  | 'bad-message'
  | 'too-large'
  | 'unauthenticated'
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

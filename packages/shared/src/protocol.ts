// The WebSocket protocol between the agent and its clients (browser, CLI). Every message that
// crosses this boundary is parsed with these schemas. See docs/protocol.md.
import { z } from 'zod';
import { NAMESPACE_TYPES } from './namespaces.js';
import { TaskStatus } from './lesson-format.js';
import { lessonIdSchema, paneNameSchema, requestIdSchema } from './names.js';
import { WorkshopMessages, WorkshopServerMessages } from './workshop.js';
import { PortalMessages } from './portal.js';
import { BuilderChoiceSchema } from './builder.js';

/**
 * Version 2: output frames carry their stream offset, clients acknowledge what they rendered
 * (flow control), attach replays an exact screen snapshot or resumes from an offset, read-only
 * viewers, rate limits. Version 1 clients are refused at the handshake (docs/protocol.md).
 */
export const PROTOCOL_VERSION = 2;
/** The versions this build accepts: a client names its own with ?v=N on the WebSocket URL. */
export const SUPPORTED_VERSIONS: readonly number[] = [2];
export const WS_PATH = '/api/ws';
/** Largest text message a client may send. */
export const MAX_CLIENT_MESSAGE_BYTES = 256 * 1024;

const labId = z.string().regex(/^[a-z0-9]{6,32}$/, 'a lab id is 6 to 32 lowercase letters or digits');
const paneName = paneNameSchema;
const requestId = requestIdSchema;
const cols = z.number().int().min(2).max(1000);
const rows = z.number().int().min(1).max(500);
/** A position in a pane's output stream: bytes since the pane was created (2^53 is far away). */
const offset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * Flow control (see the xterm.js flow-control guide): a client acknowledges the output it has
 * rendered at least every ACK_EVERY_BYTES; the agent stops reading a pane's terminal while more
 * than FLOW_HIGH_BYTES sent to a writer are unacknowledged and reads again below FLOW_LOW_BYTES.
 */
export const ACK_EVERY_BYTES = 64 * 1024;
export const FLOW_HIGH_BYTES = 512 * 1024;
export const FLOW_LOW_BYTES = 128 * 1024;
/** Longest `data` (UTF-16 units) of one input message; a client splits a larger paste. */
export const MAX_INPUT_CHARS = 16 * 1024;

export const ClientMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth'), id: requestId.optional(), token: z.string().min(1).max(512) }),
  z.object({ type: z.literal('lessons'), id: requestId }),
  z.object({ type: z.literal('open'), id: requestId, lesson: lessonIdSchema }),
  z.object({ type: z.literal('list'), id: requestId }),
  z.object({ type: z.literal('close'), id: requestId, lab: labId }),
  z.object({
    type: z.literal('exec'),
    id: requestId,
    lab: labId,
    pane: paneName,
    argv: z
      .array(z.string().max(64 * 1024))
      .min(1)
      .max(1024),
    /** Standard input for the command, base64. */
    stdin: z.string().max(MAX_CLIENT_MESSAGE_BYTES).optional(),
    timeoutMs: z.number().int().min(1).max(600_000).optional(),
  }),
  /**
   * Stream a pane's output to this client. `from`: the offset up to which the client still shows
   * the pane (after a dropped connection); the agent continues from there when it still has those
   * bytes, else it sends a snapshot of the screen. Without `from`: a snapshot, then live output.
   * cols/rows: the writer's terminal size (ignored for read-only viewers, who follow the writer).
   */
  z.object({ type: z.literal('attach'), id: requestId, lab: labId, pane: paneName, cols: cols.optional(), rows: rows.optional(), from: offset.optional() }),
  /** Output up to `offset` is rendered (flow control). No reply. */
  z.object({ type: z.literal('ack'), lab: labId, pane: paneName, offset }),
  /**
   * The learner is using this client's terminal for the pane (it got the focus, or its page
   * became visible): its acknowledgements pace the pane from now on (docs/protocol.md). No reply.
   */
  z.object({ type: z.literal('focus'), lab: labId, pane: paneName }),
  /** A read-only link to this lab for a second viewer; `revoke` invalidates earlier links. */
  z.object({ type: z.literal('share'), id: requestId, lab: labId, revoke: z.boolean().optional() }),
  /** Redeem a read-only link: this connection may then watch (never type into) that lab. */
  z.object({ type: z.literal('view'), id: requestId, token: z.string().min(1).max(512) }),
  z.object({ type: z.literal('detach'), id: requestId.optional(), lab: labId, pane: paneName }),
  z.object({ type: z.literal('input'), id: requestId.optional(), lab: labId, pane: paneName, data: z.string().max(MAX_INPUT_CHARS) }),
  z.object({ type: z.literal('resize'), id: requestId.optional(), lab: labId, pane: paneName, cols, rows }),
  z.object({ type: z.literal('restart'), id: requestId, lab: labId, pane: paneName }),
  /**
   * The namespace builder (a lab of the `builder` lesson): a new pane made from `choice`, inside
   * `parent`'s namespaces when given, named `name` or the next free `nsN`. See builder.ts.
   */
  z.object({
    type: z.literal('pane-add'),
    id: requestId,
    lab: labId,
    name: paneName.optional(),
    parent: paneName.optional(),
    choice: BuilderChoiceSchema,
  }),
  /** Close a builder pane, and the builder panes made inside it. */
  z.object({ type: z.literal('pane-close'), id: requestId, lab: labId, pane: paneName }),
  /** Subscribe to a lab's task statuses and namespace picture (pushed as they change). */
  z.object({ type: z.literal('watch'), id: requestId, lab: labId }),
  z.object({ type: z.literal('unwatch'), id: requestId.optional(), lab: labId }),
  /** Run the lab's task checks now. */
  z.object({ type: z.literal('check'), id: requestId, lab: labId }),
  /** The namespace picture now. */
  z.object({ type: z.literal('inspect'), id: requestId, lab: labId }),
  /** This browser session's progress: every task it has done, in any lab, kept by the agent. */
  z.object({ type: z.literal('progress'), id: requestId }),
  ...WorkshopMessages,
  ...PortalMessages,
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

export const PaneInfo = z.object({
  name: z.string(),
  unshare: z.array(z.string()),
  /** A pane made in the namespace builder: its choices beyond `unshare` (`parent`: nested in that pane). */
  built: z.object({ parent: z.string().optional(), mapUser: z.boolean(), mountProc: z.boolean(), hostname: z.string().optional() }).optional(),
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

/** A System V IPC object: a message queue, a shared memory segment or a semaphore set. */
export const IpcObject = z.object({ kind: z.enum(['queue', 'shm', 'sem']), key: z.string(), id: z.number(), owner: z.number() });
export type IpcObject = z.infer<typeof IpcObject>;

/** One line of an id map: `inside` in the namespace is `outside` in its parent, for `count` ids. */
const IdMapLine = z.object({ inside: z.number(), outside: z.number(), count: z.number() });

/**
 * What each namespace in the picture holds that its lesson is about, keyed by the namespace's
 * inode (as a string), as the kernel says: read by the agent from the host side, never by a
 * program in the lab. A type is absent when it could not be read.
 */
export const NsFacts = z
  .object({
    /** UTS: the host and domain names (uname). */
    uts: z.record(z.string(), z.object({ hostname: z.string(), domainname: z.string() })),
    /** IPC: the System V objects in it (ipcs). */
    ipc: z.record(z.string(), z.object({ objects: z.array(IpcObject) })),
    /** Network: its devices, whether up, their IPv4 addresses (ip -br addr). */
    net: z.record(z.string(), z.object({ devices: z.array(z.object({ name: z.string(), up: z.boolean(), addresses: z.array(z.string()) })) })),
    /** Time: the offsets of its clocks, seconds (timens_offsets). */
    time: z.record(z.string(), z.object({ monotonic: z.number(), boottime: z.number() })),
    /**
     * User: its uid and gid maps relative to its parent namespace, and the parent's inode (null:
     * the parent is the host's, outside the lab).
     */
    user: z.record(z.string(), z.object({ uidMap: z.array(IdMapLine), gidMap: z.array(IdMapLine), parent: z.number().nullable() })),
    /** Cgroup: the cgroup that is "/" inside it, as the lab's own cgroup namespace names it. */
    cgroup: z.record(z.string(), z.object({ root: z.string() })),
  })
  .partial();
export type NsFacts = z.infer<typeof NsFacts>;

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
  /** What the namespaces hold (hostnames, id maps, devices, clocks, IPC objects, cgroup roots). */
  facts: NsFacts.optional(),
});
export type Picture = z.infer<typeof Picture>;

export const ServerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), version: z.number(), versions: z.array(z.number()), authenticated: z.boolean() }),
  z.object({ type: z.literal('result'), id: requestId, data: z.unknown() }),
  z.object({ type: z.literal('error'), id: requestId.nullable(), code: z.string(), message: z.string() }),
  z.object({ type: z.literal('pane-exit'), lab: z.string(), pane: z.string(), exitCode: z.number().nullable(), signal: z.number().nullable() }),
  z.object({ type: z.literal('pane-start'), lab: z.string(), pane: z.string() }),
  /** A builder pane was closed: it is gone from the lab. */
  z.object({ type: z.literal('pane-closed'), lab: z.string(), pane: z.string() }),
  z.object({ type: z.literal('lab-closed'), lab: z.string(), reason: z.string() }),
  /** The lab will be closed in `inMs` unless someone comes back (or types, for an idle lab). */
  z.object({ type: z.literal('lab-closing'), lab: z.string(), reason: z.string(), inMs: z.number() }),
  /** The writer resized the pane: viewers show it at this size. */
  z.object({ type: z.literal('pane-size'), lab: z.string(), pane: z.string(), cols: z.number(), rows: z.number() }),
  z.object({ type: z.literal('tasks'), lab: z.string(), tasks: z.array(TaskStatus) }),
  z.object({ type: z.literal('picture'), lab: z.string(), picture: Picture }),
  /** Something the learner should know that is not the lab's doing (progress could not be saved). */
  z.object({ type: z.literal('notice'), lab: z.string(), level: z.enum(['info', 'warn']), message: z.string() }),
  /** The agent reloaded its lessons (watching on): these changed; `problems` files have mistakes. A page shows the new text. */
  z.object({ type: z.literal('lessons-changed'), generation: z.number(), lessons: z.array(z.string()), problems: z.number() }),
  ...WorkshopServerMessages,
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
  /** The agent is draining (leaving a cluster): it opens no new lab; open again to be placed elsewhere. */
  | 'draining'
  | 'read-only'
  | 'rate-limited'
  | 'bad-link'
  /** Workshops: a join code that names no workshop, one that is full, not open yet, or over. */
  | 'bad-code'
  | 'workshop-full'
  | 'workshop-not-open'
  | 'workshop-closed'
  /** Not this workshop's instructor (a wrong or replaced key), or not a learner with a seat. */
  | 'forbidden'
  /** Portals: no such key or endpoint; a key name in use. */
  | 'not-found'
  | 'conflict'
  | 'failed';

/** The result of `attach`. */
export interface AttachResult {
  attached: true;
  running: boolean;
  readOnly: boolean;
  cols: number;
  rows: number;
  /** How the client gets the screen: a snapshot frame, the missing bytes from `from`, or nothing new. */
  replay: 'snapshot' | 'resume';
  /** The stream offset at which live output continues after the replay. */
  offset: number;
}

// Binary frames (agent to client only):
//   [opcode u8][key length u8][key utf8 "lab/pane"][offset u64 big-endian][payload]
// OUTPUT: payload = raw terminal bytes; offset = their position in the pane's output stream.
// SNAPSHOT: payload = [cols u16][rows u16][escape sequences that redraw the screen, scrollback,
//   cursor and modes in a fresh terminal of that size]; offset = the stream position it shows.
export const FRAME_OUTPUT = 0x01;
export const FRAME_SNAPSHOT = 0x02;

export interface Frame {
  op: number;
  key: string;
  offset: number;
  payload: Uint8Array;
}

function frame(op: number, key: string, offset: number, head: Uint8Array | null, payload: Uint8Array): Uint8Array {
  const k = new TextEncoder().encode(key);
  if (k.length > 255) throw new Error('frame key too long');
  const h = head?.length ?? 0;
  const out = new Uint8Array(2 + k.length + 8 + h + payload.length);
  out[0] = op;
  out[1] = k.length;
  out.set(k, 2);
  new DataView(out.buffer).setBigUint64(2 + k.length, BigInt(offset));
  if (head) out.set(head, 10 + k.length);
  out.set(payload, 10 + k.length + h);
  return out;
}

export function encodeOutputFrame(key: string, offset: number, payload: Uint8Array): Uint8Array {
  return frame(FRAME_OUTPUT, key, offset, null, payload);
}

export function encodeSnapshotFrame(key: string, offset: number, cols: number, rows: number, screen: Uint8Array): Uint8Array {
  const head = new Uint8Array(4);
  const v = new DataView(head.buffer);
  v.setUint16(0, cols);
  v.setUint16(2, rows);
  return frame(FRAME_SNAPSHOT, key, offset, head, screen);
}

export function decodeFrame(buf: Uint8Array): Frame | null {
  if (buf.length < 2) return null;
  const len = buf[1]!;
  if (buf.length < 10 + len) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    op: buf[0]!,
    key: new TextDecoder().decode(buf.subarray(2, 2 + len)),
    offset: Number(view.getBigUint64(2 + len)),
    payload: buf.subarray(10 + len),
  };
}

/** The size and screen of a SNAPSHOT frame's payload. */
export function decodeSnapshot(payload: Uint8Array): { cols: number; rows: number; screen: Uint8Array } | null {
  if (payload.length < 4) return null;
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  return { cols: v.getUint16(0), rows: v.getUint16(2), screen: payload.subarray(4) };
}

/**
 * Split text for `input` messages: pieces of at most `max` UTF-16 units, never between the two
 * halves of a surrogate pair (an emoji, a rare CJK character), in order.
 */
export function splitInput(text: string, max = MAX_INPUT_CHARS): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    let end = Math.min(text.length, i + max);
    if (end < text.length && end - 1 > i) {
      const c = text.charCodeAt(end - 1);
      if (c >= 0xd800 && c <= 0xdbff) end--;
    }
    out.push(text.slice(i, end));
    i = end;
  }
  return out;
}

/** Turn a zod error into one line that names the field and what was wrong. */
export function describeZodError(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : 'message'}: ${i.message}`)
    .join('; ');
}

// Several agents behind a router: every lab id names the agent that holds it, and is signed with
// the key the agents and routers share, so that no client can point a lab id (or a link that
// carries one) at another agent. Node only (node:crypto): the agent and the router use it, never
// the web.
//
// A clustered lab id is 30 lowercase letters and digits, inside the protocol's lab id alphabet:
//   tag (6)     the agent's tag, derived from its id (agentTag)
//   random (12) the lab's own random part
//   mac (12)    HMAC-SHA256(cluster key, "nslab-lab:" + tag + random), the first 12 characters
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** An agent id: a DNS label or a dotted host name (Kubernetes node names), lowercase. */
export const AGENT_ID = /^[a-z0-9](?:[a-z0-9.-]{0,61}[a-z0-9])?$/;
export const TAG_CHARS = 6;
const RANDOM_CHARS = 12;
const MAC_CHARS = 12;
export const CLUSTER_LAB_ID_CHARS = TAG_CHARS + RANDOM_CHARS + MAC_CHARS;
/** The least a cluster key may hold, in bytes of its text. */
export const MIN_CLUSTER_KEY_CHARS = 32;

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const letters = (bytes: Uint8Array, n: number) => [...bytes.subarray(0, n)].map((b) => ALPHABET[b % ALPHABET.length]).join('');

/** The cluster key from its text (an environment variable or a Secret's file), checked. */
export function clusterKey(text: string): Buffer {
  const trimmed = text.trim();
  if (trimmed.length < MIN_CLUSTER_KEY_CHARS) throw new Error(`a cluster key must have at least ${MIN_CLUSTER_KEY_CHARS} characters`);
  return Buffer.from(trimmed, 'utf8');
}

/** The 6-character tag a lab id carries for the agent `agentId` (the same on every router). */
export function agentTag(agentId: string): string {
  if (!AGENT_ID.test(agentId)) throw new Error(`an agent id is a lowercase host name (letters, digits, dots, dashes), not ${JSON.stringify(agentId)}`);
  return letters(createHash('sha256').update(`nslab-agent:${agentId}`).digest(), TAG_CHARS);
}

function mac(key: Buffer, body: string): string {
  return letters(createHmac('sha256', key).update(`nslab-lab:${body}`).digest(), MAC_CHARS);
}

/** A new lab id for the agent whose tag is `tag`. */
export function mintLabId(key: Buffer, tag: string): string {
  if (!/^[a-z0-9]{6}$/.test(tag)) throw new Error('a tag is 6 lowercase letters or digits');
  const body = tag + letters(randomBytes(RANDOM_CHARS), RANDOM_CHARS);
  return body + mac(key, body);
}

/** The tag of the agent a lab id names, or null when the id is not one this key signed. */
export function labIdTag(key: Buffer, id: string): string | null {
  if (typeof id !== 'string' || id.length !== CLUSTER_LAB_ID_CHARS || !/^[a-z0-9]+$/.test(id)) return null;
  const body = id.slice(0, TAG_CHARS + RANDOM_CHARS);
  const want = Buffer.from(mac(key, body));
  const got = Buffer.from(id.slice(TAG_CHARS + RANDOM_CHARS));
  return want.length === got.length && timingSafeEqual(want, got) ? id.slice(0, TAG_CHARS) : null;
}

/** What an agent says of itself on /healthz under `agent` (the router reads it). */
export interface AgentSelf {
  id: string;
  tag: string;
  /** Where routers reach it (its advertised address). */
  url: string;
  /** The agent's release and protocol: a router sends new labs only to agents of its own. */
  version: string;
  protocol: number;
  draining: boolean;
  /** Whether a cluster key is set (lab ids are signed and name this agent). */
  clustered: boolean;
}

/** What an agent says of its room on /healthz under `capacity`. */
export interface AgentCapacity {
  /** Labs open now (learners' and warm). */
  open: number;
  /** Labs it can still open (0 when draining). */
  free: number;
  /** Warm labs ready to hand out. */
  warm: number;
  max: number;
}

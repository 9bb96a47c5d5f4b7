// Where a new lab goes: two random choices. Of the agents that may take one (healthy, not
// draining, of the router's own release, with room), two are drawn at random and the one with
// more free room wins: the room it last reported less the connections sent to it since. Only the
// reported room decides whether an agent may take one at all: a page that connects may never open
// a lab (a dashboard, a lesson list), and an agent that is in fact full says so itself (`limit`),
// after which the page connects again and is placed anew. It spreads labs by room without every router sending the next lab to the
// same emptiest agent at once (routers do not talk to each other, and their view is a health
// round old). Pure: the random source is a parameter, so tests can fix it.
import type { AgentState } from './health.js';

export type Random = () => number;

/** The agents a new lab may go to. */
export function placeable(agents: readonly AgentState[], version: string): AgentState[] {
  return agents.filter((a) => a.healthy && a.self !== null && !a.self.draining && a.self.version === version && (a.capacity?.free ?? 0) > 0);
}

/** The room an agent has as far as this router knows: reported, less what it was sent since. */
export function roomOf(a: AgentState): number {
  return (a.capacity?.free ?? 0) - (a.placed ?? 0);
}

/** The agent for a new lab, or null when none has room. */
export function place(agents: readonly AgentState[], version: string, random: Random = Math.random): AgentState | null {
  const ok = placeable(agents, version);
  if (ok.length === 0) return null;
  if (ok.length === 1) return ok[0]!;
  const i = Math.min(ok.length - 1, Math.floor(random() * ok.length));
  let j = Math.min(ok.length - 2, Math.floor(random() * (ok.length - 1)));
  if (j >= i) j += 1;
  const a = ok[i]!;
  const b = ok[j]!;
  return roomOf(b) > roomOf(a) ? b : a;
}

/** Any healthy agent, for requests that name no lab (the store is shared, any agent answers). */
export function anyHealthy(agents: readonly AgentState[], random: Random = Math.random): AgentState | null {
  const ok = agents.filter((a) => a.healthy);
  if (ok.length === 0) return null;
  // Prefer agents that are staying: a draining one will be gone soon.
  const staying = ok.filter((a) => !a.self?.draining);
  const from = staying.length ? staying : ok;
  return from[Math.min(from.length - 1, Math.floor(random() * from.length))]!;
}

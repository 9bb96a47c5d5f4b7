// What the router knows of its agents: every health round it asks its discovery for the list,
// then each agent for /healthz (with a timeout). An agent is healthy when it answers 200 with a
// body that says who it is (AgentSelf) and how much room it has (AgentCapacity). The tag of each
// agent's lab ids maps to it. Nothing here is kept across restarts: a new router learns it all
// again on its first round.
import { EventEmitter } from 'node:events';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { z } from 'zod';
import { AGENT_ID, type AgentCapacity, type AgentSelf } from '@nslab/shared/cluster';
import type { Discovery } from './discovery/source.js';

const Self = z.object({
  id: z.string().regex(AGENT_ID),
  tag: z.string().regex(/^[a-z0-9]{6}$/),
  url: z.string(),
  version: z.string(),
  protocol: z.number().int(),
  draining: z.boolean(),
  clustered: z.boolean(),
}) satisfies z.ZodType<AgentSelf>;
const Capacity = z.object({
  open: z.number().int().min(0),
  free: z.number().int().min(0),
  warm: z.number().int().min(0),
  max: z.number().int().min(0),
}) satisfies z.ZodType<AgentCapacity>;
const Health = z.object({ agent: Self, capacity: Capacity });

export interface AgentState {
  /** Where the router reaches it: the discovered base URL. */
  url: string;
  /** What it last said of itself (kept while it is unhealthy, to name it). */
  self: AgentSelf | null;
  capacity: AgentCapacity | null;
  healthy: boolean;
  /** When it last answered healthy. */
  lastSeen: Date | null;
  /** Why it is not healthy, or null. */
  problem: string | null;
  /**
   * New-lab connections this router sent it since its last health answer: its `free` is a round
   * old, and a burst between two rounds should spread rather than all go where the most room was.
   */
  placed?: number;
}

type Log = (level: 'info' | 'warn', msg: string, extra?: Record<string, unknown>) => void;

/** GET a URL's body as text (node:http, not fetch: fetch refuses some ports an operator may pick). */
function getText(url: string, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { method: 'GET', headers: { accept: 'application/json' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_HEALTH_BYTES) return void req.destroy(new Error(`a /healthz body over ${MAX_HEALTH_BYTES} bytes`));
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const MAX_HEALTH_BYTES = 256 * 1024;

/** Ask one agent for its health. */
export async function probe(
  url: string,
  timeoutMs: number,
): Promise<{ ok: true; self: AgentSelf; capacity: AgentCapacity } | { ok: false; why: string; self?: AgentSelf }> {
  let r: { status: number; text: string };
  try {
    r = await getText(`${url}/healthz`, timeoutMs);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] };
    return { ok: false, why: e.code ?? e.errors?.[0]?.code ?? e.message };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(r.text);
  } catch {
    return { ok: false, why: `HTTP ${r.status} without a JSON body` };
  }
  const parsed = Health.safeParse(raw);
  if (!parsed.success) return { ok: false, why: `HTTP ${r.status}: /healthz does not say agent and capacity (is it an nslab agent of this release?)` };
  if (r.status !== 200) return { ok: false, why: `HTTP ${r.status}: the agent cannot make labs`, self: parsed.data.agent };
  return { ok: true, self: parsed.data.agent, capacity: parsed.data.capacity };
}

export class Fleet extends EventEmitter<{ round: [] }> {
  private readonly agents = new Map<string, AgentState>();
  private readonly byTagMap = new Map<string, AgentState>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Why the last discovery failed, or null. */
  discoveryProblem: string | null = null;

  constructor(
    private readonly discovery: Discovery,
    private readonly opts: { intervalMs: number; timeoutMs: number; log: Log },
  ) {
    super();
  }

  /** The first round, then one every interval. */
  async start(): Promise<void> {
    await this.round();
    this.schedule();
  }

  private schedule() {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.round().finally(() => this.schedule());
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** One round now (a round already under way is joined). */
  round(): Promise<void> {
    this.running ??= this.doRound().finally(() => {
      this.running = null;
      this.emit('round');
    });
    return this.running;
  }

  private async doRound() {
    let urls: string[] | null = null;
    try {
      urls = await this.discovery.list();
      if (this.discoveryProblem) this.opts.log('info', 'agent discovery answers again', { from: this.discovery.describe });
      this.discoveryProblem = null;
    } catch (err) {
      // Keep the agents known so far: labs stay reachable while the API or DNS is away.
      const why = (err as Error).message;
      if (why !== this.discoveryProblem)
        this.opts.log('warn', 'agent discovery failed; keeping the agents known so far', { from: this.discovery.describe, why });
      this.discoveryProblem = why;
    }
    if (urls) {
      for (const url of [...this.agents.keys()]) {
        if (!urls.includes(url)) {
          this.agents.delete(url);
          this.opts.log('info', 'agent left', { url });
        }
      }
      for (const url of urls) {
        if (!this.agents.has(url)) {
          this.agents.set(url, { url, self: null, capacity: null, healthy: false, lastSeen: null, problem: 'not asked yet' });
          this.opts.log('info', 'agent found', { url });
        }
      }
    }
    await Promise.all(
      [...this.agents.values()].map(async (a) => {
        const r = await probe(a.url, this.opts.timeoutMs);
        if (!this.agents.has(a.url)) return;
        const was = a.healthy;
        if (r.ok) {
          a.self = r.self;
          a.capacity = r.capacity;
          a.placed = 0;
          a.healthy = true;
          a.lastSeen = new Date();
          a.problem = null;
        } else {
          if (r.self) a.self = r.self;
          a.healthy = false;
          a.problem = r.why;
        }
        if (was !== a.healthy)
          this.opts.log(a.healthy ? 'info' : 'warn', a.healthy ? 'agent healthy' : 'agent unhealthy', {
            url: a.url,
            id: a.self?.id,
            why: a.problem ?? undefined,
          });
      }),
    );
    this.retag();
  }

  private retag() {
    this.byTagMap.clear();
    for (const a of this.agents.values()) {
      if (!a.self?.tag) continue;
      const other = this.byTagMap.get(a.self.tag);
      // Two addresses for one agent id (an old address not yet gone): the healthy, latest one wins.
      if (other && ((other.healthy && !a.healthy) || (other.lastSeen?.getTime() ?? 0) > (a.lastSeen?.getTime() ?? 0))) continue;
      this.byTagMap.set(a.self.tag, a);
    }
  }

  /** The agent whose lab ids carry `tag`, healthy or not; undefined when none is known. */
  byTag(tag: string): AgentState | undefined {
    return this.byTagMap.get(tag);
  }

  /** Told by the proxy: this agent did not take a connection. It counts as down until it answers a round. */
  markDown(url: string, why: string) {
    const a = this.agents.get(url);
    if (!a?.healthy) return;
    a.healthy = false;
    a.problem = why;
    this.opts.log('warn', 'agent unreachable', { url, id: a.self?.id, why });
  }

  list(): AgentState[] {
    return [...this.agents.values()];
  }

  healthy(): AgentState[] {
    return this.list().filter((a) => a.healthy);
  }
}

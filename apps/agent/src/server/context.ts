// What every connection shares: the labs and the agent-wide bookkeeping around them.
import type { AddressOf } from './address.js';
import type { LabManager } from '../sandbox/labs.js';
import type { Catalogue } from '../lessons/catalogue.js';
import type { LabWatchers } from '../lessons/watchers.js';
import type { Shares } from './share.js';
import type { Presence } from './presence.js';
import type { KeyedBuckets } from './rate.js';
import type { Metrics } from './metrics.js';
import type { Store } from '../store/index.js';
import type { Workshops } from '../workshops/workshops.js';
import type { Recordings } from './recordings.js';
import type { Takeovers } from './takeovers.js';
import type { Webhooks } from '../portal/webhooks.js';

export interface RateLimits {
  /** Messages of any kind per connection. */
  messages: { burst: number; perSecond: number };
  /** Input bytes per connection (typing and pasting). */
  inputBytes: { burst: number; perSecond: number };
}

export interface ConnectionContext {
  manager: LabManager<Catalogue>;
  /** Where a request comes from, believing X-Forwarded-For only from trusted proxies (address.ts). */
  addressOf: AddressOf;
  /** With a store shared by several agents: this agent's id, to tell its labs from theirs (session-labs.ts); else null. */
  sharedAgentId: string | null;
  /** Task checks and namespace pictures of the labs, for clients that watch them. */
  watchers: LabWatchers;
  token: string;
  /** Durable state: progress, secrets (embedded or PostgreSQL). */
  store: Store;
  shares: Shares;
  workshops: Workshops;
  /** Workshop labs' panes, recorded. */
  recordings: Recordings;
  takeovers: Takeovers;
  /** Portals' webhook endpoints (a test event). */
  webhooks: Webhooks;
  /** The last limit each open lab hit (for the instructor's room). */
  labLimits: Map<string, 'memory' | 'pids'>;
  /** Join codes and instructor keys tried per address (right or wrong). */
  joinsPerAddress: KeyedBuckets;
  /** Help requests per browser session. */
  helpPerSession: KeyedBuckets;
  presence: Presence;
  rates: RateLimits;
  /** Lab creation per browser session, and per client address. */
  opensPerSession: KeyedBuckets;
  opensPerAddress: KeyedBuckets;
  /** Wrong tokens per address. */
  authFailures: KeyedBuckets;
  log: (level: 'info' | 'warn', msg: string, extra?: Record<string, unknown>) => void;
  metrics: Metrics | null;
}

// Several agents sharing one store: each says there which labs every browser session holds on it,
// so that a workshop dashboard on any agent shows every learner's lab, lesson and presence
// (workshop-handlers.ts; a session's newest lab), and the portal API on any agent lists a
// key's labs on all of them (api-v1.ts). Written on open, on a change of presence and on
// close; every minute the agent writes its rows again and drops those of labs it no longer
// has, and readers ignore rows older than a few minutes: an agent that died takes its rows
// with it. Writes are best effort: a store that is away costs a stale dashboard, nothing else.
import type { Lab } from '../sandbox/lab.js';
import type { LabManager } from '../sandbox/labs.js';
import type { SessionLab, Store } from '../store/index.js';
import type { Presence } from './presence.js';

const REFRESH_MS = 60_000;
/** Rows not written again for this long are an agent's that is gone. */
export const SESSION_LAB_FRESH_MS = 3 * REFRESH_MS;

export class SessionLabs {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly manager: LabManager,
    private readonly presence: Presence,
    private readonly agentId: string,
    private readonly log: (msg: string, extra: Record<string, unknown>) => void,
  ) {}

  start() {
    this.manager.on('opened', (lab) => this.write(lab));
    this.manager.on('closed', (lab) => {
      if (lab.owner) this.best('clear', this.store.clearSessionLab(lab.id));
    });
    // What an earlier run of this agent left is dropped now: none of its labs survived it.
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  /** A lab's presence changed (presence.ts onChange). */
  changed(labId: string) {
    const lab = this.manager.get(labId);
    if (lab) this.write(lab);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private write(lab: Lab) {
    if (!lab.owner || !lab.lesson || lab.state !== 'open') return;
    this.best(
      'write',
      this.store.setSessionLab({
        session: lab.owner,
        lab: lab.id,
        lesson: lab.lesson.id,
        agent: this.agentId,
        connected: this.presence.held(lab.id),
        activeAt: Math.round(Date.now() - (performance.now() - lab.lastActiveAt)),
        createdAt: lab.createdAt.getTime(),
        closesAt: this.manager.closesAt(lab)?.getTime() ?? null,
        panes: lab.info().panes.map((p) => ({ name: p.name, running: p.running })),
      }),
    );
  }

  private refresh() {
    const mine = this.manager.list().filter((l) => l.owner !== null);
    // Written whole again: presence, activity and a lifetime that was extended stay current.
    for (const lab of mine) this.write(lab);
    this.best(
      'refresh',
      this.store.keepAgentLabs(
        this.agentId,
        mine.map((l) => l.id),
      ),
    );
  }

  private best(what: string, p: Promise<void>) {
    p.catch((err: Error) => this.log('could not keep a session lab in the store', { what, error: err.message }));
  }
}

/** Every other agent's labs (fresh rows only); none when the store is away. */
export function remoteLabs(store: Store, agentId: string): Promise<SessionLab[]> {
  return store.clusterLabs(Date.now() - SESSION_LAB_FRESH_MS).then(
    (rows) => rows.filter((r) => r.agent !== agentId),
    () => [],
  );
}

/** The rows of other agents' labs for these sessions (fresh ones only). */
export function remoteSessionLabs(store: Store, sessions: string[], agentId: string): Promise<Map<string, SessionLab>> {
  return store.sessionLabs(sessions, Date.now() - SESSION_LAB_FRESH_MS).then(
    (rows) => new Map(rows.filter((r) => r.agent !== agentId).map((r) => [r.session, r])),
    () => new Map(),
  );
}

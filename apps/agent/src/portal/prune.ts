// Rows that are of no use once they expired: launch links and LTI logins (a day after, so a
// late click still gets "expired" rather than "unknown"). Pruned at start and every hour.
import type { Store } from '../store/index.js';

const EVERY_MS = 3_600_000;
const KEEP_MS = 86_400_000;

export class Pruner {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly log: (msg: string, extra: Record<string, unknown>) => void,
  ) {}

  start(): void {
    void this.prune();
    this.timer = setInterval(() => void this.prune(), EVERY_MS);
    this.timer.unref();
  }

  async prune(now = Date.now()): Promise<{ launches: number; logins: number }> {
    try {
      const launches = await this.store.portal.pruneLaunches(now - KEEP_MS);
      const logins = await this.store.lti.pruneLtiLogins(now - KEEP_MS);
      return { launches, logins };
    } catch (err) {
      this.log('could not prune expired launches', { error: (err as Error).message });
      return { launches: 0, logins: 0 };
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

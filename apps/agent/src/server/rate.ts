// Token buckets: a client may burst up to `burst` units, then `perSecond` units a second.
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
  ) {
    this.tokens = burst;
  }

  /** Take `n` units; false (and nothing taken) when the client is over its rate. */
  take(n = 1): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Seconds until `n` units are available. */
  waitFor(n = 1): number {
    return Math.max(0, Math.ceil((n - this.tokens) / this.perSecond));
  }
}

/** One bucket per key (a session, an address), forgotten after a quiet while. */
export class KeyedBuckets {
  private readonly buckets = new Map<string, { bucket: TokenBucket; used: number }>();

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
  ) {}

  take(key: string, n = 1): { ok: boolean; retryInS: number } {
    const now = performance.now();
    if (this.buckets.size > 10_000) this.prune(now);
    let entry = this.buckets.get(key);
    if (!entry) this.buckets.set(key, (entry = { bucket: new TokenBucket(this.burst, this.perSecond), used: now }));
    entry.used = now;
    const ok = entry.bucket.take(n);
    return { ok, retryInS: ok ? 0 : entry.bucket.waitFor(n) };
  }

  private prune(now: number) {
    const idleMs = (this.burst / this.perSecond) * 1000;
    for (const [k, e] of this.buckets) if (now - e.used > idleMs) this.buckets.delete(k);
  }
}

// Delivers what the store's outbox holds: each kind of message has a sender (webhooks.ts for
// webhook deliveries, the LTI tool's for scores). A message is tried until its sender resolves,
// with exponential backoff (5 s, 10 s, 20 s ... at most an hour apart, with jitter) for a day,
// then given up; the next message of the same ordering key waits for it either way, so a
// receiver sees a user's events in order. Everything is in the store: an agent that restarts
// goes on where it stopped.
import type { OutboxKind, OutboxRow, Store } from '../store/index.js';

/** Resolves when the message was delivered; throws (a DeliveryError, with the status) when not. */
export type Sender = (msg: OutboxRow) => Promise<{ status: number | null }>;

export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface OutboxOptions {
  /** The first retry's delay; each next one doubles (default 5 s). */
  baseDelayMs?: number;
  /** The longest delay between two attempts (default 1 h). */
  maxDelayMs?: number;
  /** A message not delivered this long after it was made is given up (default 24 h). */
  giveUpAfterMs?: number;
  /** How often the store is looked at for due messages when nothing woke the loop (default 1 s). */
  pollMs?: number;
  /** Messages attempted at once (default 8). */
  concurrency?: number;
}

export class Outbox {
  private readonly senders = new Map<OutboxKind, Sender>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private readonly o: Required<OutboxOptions>;

  constructor(
    private readonly store: Store,
    private readonly log: (msg: string, extra: Record<string, unknown>) => void,
    options: OutboxOptions = {},
  ) {
    this.o = {
      baseDelayMs: options.baseDelayMs ?? 5000,
      maxDelayMs: options.maxDelayMs ?? 3_600_000,
      giveUpAfterMs: options.giveUpAfterMs ?? 86_400_000,
      pollMs: options.pollMs ?? 1000,
      concurrency: options.concurrency ?? 8,
    };
  }

  register(kind: OutboxKind, sender: Sender): void {
    this.senders.set(kind, sender);
  }

  start(): void {
    this.stopped = false;
    this.kick();
  }

  /** Look for due messages now (a message was just added). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.drain()
      .catch((err: Error) => this.log('the outbox could not be read; trying again', { error: err.message }))
      .finally(() => {
        this.running = null;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.kick();
          return;
        }
        this.timer = setTimeout(() => this.kick(), this.o.pollMs);
        this.timer.unref();
      });
  }

  /** The delay before attempt `n + 1` after `n` failed ones. */
  delayAfter(n: number): number {
    const d = Math.min(this.o.maxDelayMs, this.o.baseDelayMs * 2 ** Math.max(0, n - 1));
    return Math.round(d * (1 + Math.random() * 0.2));
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const due = await this.store.outbox.due(Date.now(), this.o.concurrency * 4);
      if (!due.length) return;
      // Heads of different ordering keys are independent: a few at a time.
      for (let i = 0; i < due.length && !this.stopped; i += this.o.concurrency) {
        await Promise.all(due.slice(i, i + this.o.concurrency).map((m) => this.attempt(m)));
      }
    }
  }

  private async attempt(m: OutboxRow): Promise<void> {
    const sender = this.senders.get(m.kind);
    const started = performance.now();
    let status: number | null = null;
    let error: string | null = null;
    if (!sender) error = `nothing delivers messages of kind ${m.kind}`;
    else {
      try {
        status = (await sender(m)).status;
      } catch (err) {
        error = (err as Error).message || String(err);
        status = err instanceof DeliveryError ? err.status : null;
      }
    }
    const now = Date.now();
    const ok = error === null;
    const n = m.attempts + 1;
    const retryAt = ok || now - m.createdAt.getTime() >= this.o.giveUpAfterMs ? null : now + this.delayAfter(n);
    if (!ok && retryAt === null) this.log('gave up a delivery after a day of tries', { kind: m.kind, target: m.target, id: m.id, attempts: n, error });
    await this.store.outbox.recordAttempt(m.seq, { at: now, ok, status, error, ms: performance.now() - started, retryAt });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}

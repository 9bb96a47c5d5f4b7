// Events between agents that share one PostgreSQL (docs/router.md): a room changed on one agent
// must reach the instructor whose dashboard is on another. They travel through the store itself
// (LISTEN/NOTIFY on one channel), not through a service of their own. An event is a hint to
// read the store again, never the data: one lost while the connection is down costs a refresh
// that comes with the next event, and nothing is lost from the store.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const CHANNEL = 'nslab_events';
/** PostgreSQL's limit for a NOTIFY payload is 8000 bytes; ours stay far below. */
const MAX_PAYLOAD = 7000;

export interface Notifier {
  /** Send to every other agent listening (never back to this one). */
  publish(event: Record<string, unknown>): void;
  /** Every event another agent published. */
  onEvent(fn: (event: Record<string, unknown>) => void): void;
  close(): Promise<void>;
}

/**
 * A dedicated connection that LISTENs, opened again after it breaks (1 s, doubling to 30 s), and
 * sends with NOTIFY on the same connection. `log` hears of every break and every return.
 */
export function postgresNotifier(url: string, log: (msg: string, extra?: Record<string, unknown>) => void): Notifier {
  const self = randomBytes(8).toString('hex');
  const listeners: Array<(event: Record<string, unknown>) => void> = [];
  let client: pg.Client | null = null;
  let closed = false;
  let pause = 1000;
  let timer: NodeJS.Timeout | null = null;

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ connectionString: url, application_name: 'nslab-agent-events', keepAlive: true, connectionTimeoutMillis: 5000 });
    c.on('error', () => {}); // 'end' follows; handled there
    c.on('end', () => {
      if (client === c) client = null;
      if (!closed) {
        log('the store connection for events between agents broke; opening it again', { inMs: pause });
        later();
      }
    });
    c.on('notification', (n) => {
      if (n.channel !== CHANNEL || !n.payload) return;
      let event: unknown;
      try {
        event = JSON.parse(n.payload);
      } catch {
        return;
      }
      if (!event || typeof event !== 'object' || (event as { from?: unknown }).from === self) return;
      for (const fn of listeners) fn(event as Record<string, unknown>);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
      if (closed) {
        await c.end().catch(() => {});
        return;
      }
      client = c;
      pause = 1000;
    } catch (err) {
      log('cannot open the store connection for events between agents', { error: (err as Error).message, inMs: pause });
      await c.end().catch(() => {});
      later();
    }
  };
  const later = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = null;
      void connect();
    }, pause);
    pause = Math.min(30_000, pause * 2);
  };
  void connect();

  return {
    publish(event) {
      const text = JSON.stringify({ ...event, from: self });
      if (text.length > MAX_PAYLOAD || !client) return;
      client.query('SELECT pg_notify($1, $2)', [CHANNEL, text]).catch(() => {});
    },
    onEvent(fn) {
      listeners.push(fn);
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      await c?.end().catch(() => {});
    },
  };
}

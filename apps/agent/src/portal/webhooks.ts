// Webhooks of training portals: endpoints per key, events signed per the Standard Webhooks
// specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`; the standardwebhooks
// package signs), sent from the store's outbox (outbox.ts retries them). An event carries the
// portal's own user id, the lesson, the task and times: nothing else about the person.
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { OutboxRow, Store, WebhookEndpointRow } from '../store/index.js';
import { StoreError } from '../store/index.js';
import { PortalError } from './errors.js';
import { newId } from './keys.js';
import { DeliveryError, type Outbox } from './outbox.js';

export const WEBHOOK_EVENTS = ['lab.opened', 'task.completed', 'lesson.completed', 'lab.closed', 'webhook.test'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** A delivery's body: the Standard Webhooks shape (type, timestamp, data). */
export interface WebhookBody {
  type: WebhookEvent;
  timestamp: string;
  data: Record<string, string | number | null>;
}

/** The longest a receiver may take to answer. */
const TIMEOUT_MS = 10_000;

export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** Register an endpoint for a key; returns it, with its signing secret. */
export async function addEndpoint(store: Store, keyName: string, url: string): Promise<WebhookEndpointRow> {
  const key = await store.portal.liveApiKeyByName(keyName);
  if (!key) throw new PortalError('not-found', `no key named ${keyName} (see nslab keys ls)`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PortalError('invalid', `'${url}' is not a URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new PortalError('invalid', `'${url}' is not an http(s) URL`);
  if (u.username || u.password) throw new PortalError('invalid', 'an endpoint URL must not carry a user name or password');
  try {
    return await store.portal.addWebhookEndpoint({ id: newId(), keyId: key.id, url: u.toString(), secret: newSecret() });
  } catch (err) {
    if (err instanceof StoreError && err.code === 'invalid') throw new PortalError('invalid', err.message.replace(/^addWebhookEndpoint: /, ''));
    throw err;
  }
}

/** The message id of a delivery: unique, the same at every retry (receivers deduplicate by it). */
export function messageId(): string {
  return `msg_${randomBytes(18).toString('base64url')}`;
}

export class Webhooks {
  constructor(
    private readonly store: Store,
    private readonly outbox: Outbox,
  ) {
    outbox.register('webhook', (m) => this.deliver(m));
  }

  /** Queue an event for every endpoint of the key, in order for the user. */
  async emit(keyId: string, user: string, type: WebhookEvent, data: Record<string, string | number | null>, at = new Date()): Promise<number> {
    const endpoints = await this.store.portal.webhookEndpoints(keyId);
    for (const e of endpoints) await this.queue(e, user, type, data, at);
    if (endpoints.length) this.outbox.kick();
    return endpoints.length;
  }

  /** Queue a test event for one endpoint. */
  async test(endpoint: WebhookEndpointRow): Promise<string> {
    const id = await this.queue(endpoint, '(test)', 'webhook.test', { message: 'a test event from nslab' }, new Date());
    this.outbox.kick();
    return id;
  }

  private async queue(e: WebhookEndpointRow, user: string, type: WebhookEvent, data: Record<string, string | number | null>, at: Date): Promise<string> {
    const id = messageId();
    const body: WebhookBody = { type, timestamp: at.toISOString(), data: type === 'webhook.test' ? data : { user, ...data } };
    await this.store.outbox.enqueue({ id, kind: 'webhook', target: e.id, orderingKey: user, event: type, payload: body, at });
    return id;
  }

  private async deliver(m: OutboxRow): Promise<{ status: number }> {
    const endpoint = await this.store.portal.webhookEndpoint(m.target);
    if (!endpoint) throw new DeliveryError('the endpoint was removed');
    const payload = JSON.stringify(m.payload);
    // Signed at each attempt: the timestamp is when it was sent (receivers refuse old ones).
    const now = new Date();
    const signature = new Webhook(endpoint.secret).sign(m.id, now, payload);
    let res: Response;
    try {
      res = await fetch(endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'nslab-webhooks/1',
          'webhook-id': m.id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': signature,
        },
        body: payload,
        redirect: 'manual',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      throw new DeliveryError(e.name === 'TimeoutError' ? `no answer within ${TIMEOUT_MS / 1000} s` : (e.cause?.code ?? e.cause?.message ?? e.message));
    }
    // The body is not needed; reading it frees the connection.
    await res.arrayBuffer().catch(() => undefined);
    if (res.status < 200 || res.status > 299) throw new DeliveryError(`the endpoint answered ${res.status}`, res.status);
    return { status: res.status };
  }
}

// The token holder's requests about training portals (the `nslab keys` and `nslab webhooks`
// commands): API keys and webhook endpoints, and each endpoint's delivery log. No page ever
// reaches these: a browser session has no token.
import type { ApiKeyRow } from '../store/index.js';
import { createKey } from '../portal/keys.js';
import { addEndpoint } from '../portal/webhooks.js';
import { PortalError } from '../portal/errors.js';
import type { Handler } from './scope.js';
import { tokenOnly } from './workshop-handlers.js';
import { ClientError } from './errors.js';

type PortalType = 'key-create' | 'key-list' | 'key-revoke' | 'webhook-add' | 'webhook-list' | 'webhook-remove' | 'webhook-log' | 'webhook-test';

const keyInfo = (k: ApiKeyRow) => ({
  id: k.id,
  name: k.name,
  origins: k.origins,
  createdAt: k.createdAt.toISOString(),
  revokedAt: k.revokedAt?.toISOString() ?? null,
});

/** A portal error as the protocol's error. */
async function portal<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PortalError)
      throw new ClientError(err.code === 'not-found' ? 'not-found' : err.code === 'conflict' ? 'conflict' : 'bad-message', err.message);
    throw err;
  }
}

async function endpointOf(scope: Parameters<Handler<'webhook-log'>>[0], id: string) {
  const e = await scope.ctx.store.portal.webhookEndpoint(id);
  if (!e) throw new ClientError('not-found', `no webhook endpoint ${id} (see nslab webhooks ls)`);
  return e;
}

export const PORTAL_HANDLERS: { [T in PortalType]: Handler<T> } = {
  async 'key-create'(scope, msg) {
    tokenOnly(scope, 'making an API key');
    const made = await portal(() => createKey(scope.ctx.store, msg.name, msg.origins));
    scope.ctx.log('info', 'API key created', { key: made.name, origins: made.origins });
    const row = await scope.ctx.store.portal.apiKey(made.id);
    return { ...keyInfo(row!), key: made.key };
  },

  async 'key-list'(scope) {
    tokenOnly(scope, 'listing API keys');
    return (await scope.ctx.store.portal.listApiKeys()).map(keyInfo);
  },

  async 'key-revoke'(scope, msg) {
    tokenOnly(scope, 'revoking an API key');
    const k = await scope.ctx.store.portal.revokeApiKey(msg.name);
    if (!k) throw new ClientError('not-found', `no key named ${msg.name} (see nslab keys ls)`);
    scope.ctx.log('info', 'API key revoked', { key: k.name });
    return { revoked: true as const };
  },

  async 'webhook-add'(scope, msg) {
    tokenOnly(scope, 'adding a webhook endpoint');
    const e = await portal(() => addEndpoint(scope.ctx.store, msg.key, msg.url));
    return { id: e.id, key: msg.key, url: e.url, createdAt: e.createdAt.toISOString(), secret: e.secret };
  },

  async 'webhook-list'(scope) {
    tokenOnly(scope, 'listing webhook endpoints');
    const names = new Map((await scope.ctx.store.portal.listApiKeys()).map((k) => [k.id, k.name]));
    return (await scope.ctx.store.portal.webhookEndpoints()).map((e) => ({
      id: e.id,
      key: names.get(e.keyId) ?? e.keyId,
      url: e.url,
      createdAt: e.createdAt.toISOString(),
    }));
  },

  async 'webhook-remove'(scope, msg) {
    tokenOnly(scope, 'removing a webhook endpoint');
    if (!(await scope.ctx.store.portal.removeWebhookEndpoint(msg.endpoint))) throw new ClientError('not-found', `no webhook endpoint ${msg.endpoint}`);
    return { removed: true as const };
  },

  async 'webhook-log'(scope, msg) {
    tokenOnly(scope, 'reading a delivery log');
    const e = await endpointOf(scope, msg.endpoint);
    const rows = await scope.ctx.store.outbox.log('webhook', e.id, msg.limit ?? 50);
    return rows.map((r) => ({
      id: r.id,
      event: r.event,
      user: r.orderingKey,
      createdAt: r.createdAt.toISOString(),
      state: r.doneAt ? ('delivered' as const) : r.failedAt ? ('failed' as const) : ('pending' as const),
      attempts: r.attempts,
      nextAt: r.doneAt || r.failedAt ? null : r.nextAt.toISOString(),
      lastError: r.lastError,
      tries: r.tries.map((t) => ({ n: t.n, at: t.at.toISOString(), status: t.status, error: t.error, ms: t.ms })),
    }));
  },

  async 'webhook-test'(scope, msg) {
    tokenOnly(scope, 'sending a test event');
    const e = await endpointOf(scope, msg.endpoint);
    return { queued: await scope.ctx.webhooks.test(e) };
  },
};

// Training portals, as the token holder manages them (the `nslab keys` and `nslab webhooks`
// commands, docs/portals.md): API keys with the origins that may embed nslab for them, and the
// webhook endpoints of each key with their delivery log. The agent checks every message with
// these schemas; the CLI checks every answer.
import { z } from 'zod';
import { requestIdSchema as requestId } from './names.js';

export const keyNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'a key name is 1 to 40 lowercase letters, digits, dashes or underscores');
export const originSchema = z
  .string()
  .max(200)
  .regex(/^https?:\/\/[^/\s?#]+$/, 'an origin is scheme://host[:port], without a path');
const endpointId = z.string().regex(/^[a-z0-9]{6,32}$/, 'an endpoint id (see nslab webhooks ls)');

export const PortalMessages = [
  /** Make an API key (the token holder). The answer carries the key, once. */
  z.object({ type: z.literal('key-create'), id: requestId, name: keyNameSchema, origins: z.array(originSchema).max(20) }),
  z.object({ type: z.literal('key-list'), id: requestId }),
  z.object({ type: z.literal('key-revoke'), id: requestId, name: keyNameSchema }),
  /** Register a webhook endpoint for a key; the answer carries its signing secret, once. */
  z.object({ type: z.literal('webhook-add'), id: requestId, key: keyNameSchema, url: z.string().min(1).max(2048) }),
  z.object({ type: z.literal('webhook-list'), id: requestId }),
  z.object({ type: z.literal('webhook-remove'), id: requestId, endpoint: endpointId }),
  /** The endpoint's newest deliveries, with every attempt. */
  z.object({ type: z.literal('webhook-log'), id: requestId, endpoint: endpointId, limit: z.number().int().min(1).max(500).optional() }),
  /** Queue a `webhook.test` event for the endpoint. */
  z.object({ type: z.literal('webhook-test'), id: requestId, endpoint: endpointId }),
] as const;

export const ApiKeyInfo = z.object({
  id: z.string(),
  name: z.string(),
  origins: z.array(z.string()),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
export type ApiKeyInfo = z.infer<typeof ApiKeyInfo>;

export const WebhookEndpointInfo = z.object({ id: z.string(), key: z.string(), url: z.string(), createdAt: z.string() });

export const DeliveryInfo = z.object({
  id: z.string(),
  event: z.string(),
  user: z.string(),
  createdAt: z.string(),
  state: z.enum(['delivered', 'pending', 'failed']),
  attempts: z.number(),
  nextAt: z.string().nullable(),
  lastError: z.string().nullable(),
  tries: z.array(z.object({ n: z.number(), at: z.string(), status: z.number().nullable(), error: z.string().nullable(), ms: z.number() })),
});
export type DeliveryInfo = z.infer<typeof DeliveryInfo>;

export const PORTAL_RESULTS = {
  'key-create': ApiKeyInfo.extend({ key: z.string() }),
  'key-list': z.array(ApiKeyInfo),
  'key-revoke': z.object({ revoked: z.literal(true) }),
  'webhook-add': WebhookEndpointInfo.extend({ secret: z.string() }),
  'webhook-list': z.array(WebhookEndpointInfo),
  'webhook-remove': z.object({ removed: z.literal(true) }),
  'webhook-log': z.array(DeliveryInfo),
  'webhook-test': z.object({ queued: z.string() }),
} as const;

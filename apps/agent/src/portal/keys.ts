// API keys of training portals: made here, shown once, kept only as their SHA-256 (a key is 32
// random bytes, so a plain hash is enough: nothing to guess, nothing to stretch). A key is for
// a portal's server, never for a page.
import { createHash, randomBytes } from 'node:crypto';
import { StoreError, type ApiKeyRow, type Store } from '../store/index.js';
import { PortalError } from './errors.js';

/** What a key looks like: a prefix a secret scanner can find, then 43 base64url characters. */
export const KEY_PATTERN = /^nsk_[A-Za-z0-9_-]{43}$/;

export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function newId(): string {
  // 16 lowercase letters and digits (from 10 random bytes).
  return BigInt(`0x${randomBytes(10).toString('hex')}`)
    .toString(36)
    .padStart(16, '0')
    .slice(-16);
}

/** Make a key: returns it in full (the only time it exists outside the caller). */
export async function createKey(store: Store, name: string, origins: string[]): Promise<{ id: string; name: string; key: string; origins: string[] }> {
  const key = `nsk_${randomBytes(32).toString('base64url')}`;
  const unique = [...new Set(origins.map((o) => o.replace(/\/+$/, '')))];
  try {
    const row = await store.portal.createApiKey({ id: newId(), name, keyHash: hashKey(key), origins: unique });
    return { id: row.id, name: row.name, key, origins: row.origins };
  } catch (err) {
    if (err instanceof StoreError && err.code === 'conflict') throw new PortalError('conflict', err.message.replace(/^createApiKey: /, ''));
    if (err instanceof StoreError && err.code === 'invalid') throw new PortalError('invalid', err.message.replace(/^createApiKey: /, ''));
    throw err;
  }
}

/** The live key a bearer token names, or why not. */
export async function keyFor(
  store: Store,
  token: string | null,
): Promise<{ ok: true; key: ApiKeyRow } | { ok: false; why: 'missing' | 'unknown' | 'revoked' }> {
  if (!token) return { ok: false, why: 'missing' };
  if (!KEY_PATTERN.test(token)) return { ok: false, why: 'unknown' };
  const key = await store.portal.apiKeyByHash(hashKey(token));
  if (!key) return { ok: false, why: 'unknown' };
  if (key.revokedAt) return { ok: false, why: 'revoked' };
  return { ok: true, key };
}

/** The source name of a key's users (portal_user.source). */
export function keySource(keyId: string): string {
  return `key:${keyId}`;
}

// One-time launch links: a portal's server asks for one (POST /api/v1/launches), the learner's
// browser uses it once, within its time (60 s by default), and is then that portal user. The
// link's token is 32 random bytes; the store keeps only its hash.
import { createHash, randomBytes } from 'node:crypto';
import type { ApiKeyRow, LaunchRow, Store } from '../store/index.js';

export const DEFAULT_LAUNCH_S = 60;
export const LAUNCH_PATH = /^\/launch\/([A-Za-z0-9_-]{43})$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export interface NewLaunch {
  lesson: string;
  user: string;
  name?: string;
  lang?: 'en' | 'zh';
  returnUrl?: string;
  expiresIn?: number;
}

export async function createLaunch(store: Store, key: ApiKeyRow, l: NewLaunch, baseUrl: string): Promise<{ url: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const now = Date.now();
  const expiresAt = new Date(now + (l.expiresIn ?? DEFAULT_LAUNCH_S) * 1000);
  await store.portal.createLaunch({
    tokenHash: hashToken(token),
    keyId: key.id,
    user: l.user,
    lesson: l.lesson,
    lang: l.lang ?? 'en',
    name: l.name ?? null,
    returnUrl: l.returnUrl ?? null,
    createdAt: now,
    expiresAt,
  });
  return { url: `${baseUrl}/launch/${token}`, expiresAt };
}

/** Use a link; the launch, or why not (in words for the learner's page). */
export async function useLaunch(
  store: Store,
  token: string,
): Promise<{ ok: true; launch: LaunchRow; key: ApiKeyRow } | { ok: false; status: number; why: string }> {
  const r = await store.portal.useLaunch(hashToken(token));
  if (!r.ok) {
    if (r.why === 'used')
      return {
        ok: false,
        status: 410,
        why: 'This link was used already. A launch link works once: go back to your training portal and open the lesson again.',
      };
    if (r.why === 'expired')
      return {
        ok: false,
        status: 410,
        why: 'This link has expired. Launch links work for a short time only: go back to your training portal and open the lesson again.',
      };
    return { ok: false, status: 404, why: 'This is not a launch link nslab knows. Open the lesson from your training portal.' };
  }
  const key = await store.portal.apiKey(r.launch.keyId);
  if (!key || key.revokedAt) return { ok: false, status: 403, why: "This portal's access to nslab was withdrawn. Ask the portal's administrators." };
  return { ok: true, launch: r.launch, key };
}

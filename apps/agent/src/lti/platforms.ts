// The LTI 1.3 platforms (LMSs) registered in the configuration: one entry per platform and
// client id, as the LMS's administrator sees them when they register nslab as a tool.
import { createHash } from 'node:crypto';
import { z } from 'zod';

const url = z.string().regex(/^https?:\/\/\S+$/, 'an absolute http(s) URL');

export const LtiPlatform = z.strictObject({
  /** The platform's issuer (its `iss`), e.g. https://moodle.example.org. */
  issuer: url,
  /** The client id the platform gave nslab. */
  clientId: z.string().min(1).max(255),
  /** The deployment ids nslab accepts from it. */
  deploymentIds: z.array(z.string().min(1).max(255)).min(1, 'at least one deployment id'),
  /** Its OIDC authorization endpoint (the login's redirect). */
  authUrl: url,
  /** Its OAuth 2 token endpoint (for grades). */
  tokenUrl: url,
  /** Its public keys. */
  jwksUrl: url,
  /**
   * Optional: more origins whose pages frame the lessons, when the LMS's pages are not on its
   * issuer's origin (Canvas Cloud: the school's own domain; Open edX: its learning app's).
   */
  frameOrigins: z
    .array(z.string().regex(/^https?:\/\/[^/\s?#]+$/, 'an origin: scheme://host[:port], no path'))
    .max(20)
    .optional(),
});
export type LtiPlatform = z.infer<typeof LtiPlatform>;

export const LtiPlatforms = z.array(LtiPlatform).max(100, 'at most 100 platforms');

/** A short, stable id of a platform registration (issuer and client id). */
export function ltiPlatformId(p: Pick<LtiPlatform, 'issuer' | 'clientId'>): string {
  return createHash('sha256').update(`${p.issuer}\n${p.clientId}`).digest('hex').slice(0, 16);
}

/** The origins a platform's pages are on: where the embed view may be framed and post events. */
export function ltiOrigins(p: LtiPlatform): string[] {
  return [...new Set([...[p.issuer, p.authUrl].map((u) => new URL(u).origin), ...(p.frameOrigins ?? [])])];
}

/**
 * The registration a login names: by issuer, and by client id when the platform sends one. An
 * issuer registered with several client ids must say which (platforms do send `client_id`).
 */
export function findPlatform(platforms: readonly LtiPlatform[], issuer: string, clientId?: string | null): LtiPlatform | 'unknown' | 'ambiguous' {
  const byIssuer = platforms.filter((p) => p.issuer === issuer);
  if (clientId) return byIssuer.find((p) => p.clientId === clientId) ?? 'unknown';
  if (byIssuer.length > 1) return 'ambiguous';
  return byIssuer[0] ?? 'unknown';
}

/** The registration with this id (`ltiPlatformId`), if it is still configured. */
export function platformById(platforms: readonly LtiPlatform[], id: string): LtiPlatform | undefined {
  return platforms.find((p) => ltiPlatformId(p) === id);
}

/** The embed source of a platform's learners ('lti:<platform id>'). */
export function ltiSource(p: Pick<LtiPlatform, 'issuer' | 'clientId'>): string {
  return `lti:${ltiPlatformId(p)}`;
}

/** The frame origins of an embed source, when it is one of these platforms' ([] otherwise). */
export function ltiSourceOrigins(platforms: readonly LtiPlatform[], source: string): string[] {
  if (!source.startsWith('lti:')) return [];
  const p = platformById(platforms, source.slice(4));
  return p ? ltiOrigins(p) : [];
}

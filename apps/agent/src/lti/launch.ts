// The launch (LTI 1.3 core, section 5.1.2 and the 1EdTech Security Framework, section 5.1.3):
// the platform's form post of an id_token and the login's state. Nothing is opened unless all
// of this holds, in this order:
//   - the state is one this tool gave out, not used before and not expired (it is used up now,
//     whatever comes next: a state works once);
//   - the id_token is an RS256 JWT signed by a key the login's platform publishes at its jwksUrl
//     (a kid the tool has not seen makes it fetch the set again: the platform rotated its keys);
//   - iss is that platform's issuer; aud is or contains its client id; azp, when present (and it
//     must be when aud has several entries), is the client id; exp is not past, iat not in the
//     future nor long ago (a little clock skew allowed);
//   - nonce is the login's nonce (a token replayed into another login is refused);
//   - version is 1.3.0, deployment_id is one registered for the platform, message_type is a
//     resource link or a Deep Linking request, with the claims that message needs.
// Every refusal says which of these failed, in plain words, naming claims and ids (never tokens).
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type RemoteJWKSet } from 'jose';
import type { z } from 'zod';
import type { LtiLoginRow, Store } from '../store/index.js';
import {
  AgsEndpointClaim,
  CLAIM,
  CustomClaim,
  DEEP_LINKING_REQUEST,
  DeepLinkingSettingsClaim,
  LaunchPresentationClaim,
  LTI_VERSION,
  RESOURCE_LINK_REQUEST,
  ResourceLinkClaim,
  SCORE_SCOPE,
} from './claims.js';
import type { Refusal } from './pages.js';
import { ltiPlatformId, platformById, type LtiPlatform } from './platforms.js';

/**
 * After a fetch of a platform's keys, how long before a token with an unknown kid may make the
 * tool fetch them again: short, so a rotation is picked up at once, yet a stream of tokens with
 * made-up kids costs the platform at most one request per this long.
 */
export const JWKS_COOLDOWN_MS = 2000;
/** Clock skew allowed between the platform and the agent. */
export const CLOCK_TOLERANCE_S = 30;
/** An id_token issued longer ago than this is refused, whatever its exp. */
export const MAX_TOKEN_AGE_S = 600;

/** The key sets of the platforms, fetched when first needed and cached (jose's remote JWKS). */
export class PlatformKeys {
  private readonly sets = new Map<string, RemoteJWKSet>();

  constructor(private readonly options: { timeoutMs?: number; cooldownMs?: number } = {}) {}

  of(p: LtiPlatform): RemoteJWKSet {
    let set = this.sets.get(p.jwksUrl);
    if (!set) {
      set = createRemoteJWKSet(new URL(p.jwksUrl), {
        timeoutDuration: this.options.timeoutMs ?? 5000,
        cooldownDuration: this.options.cooldownMs ?? JWKS_COOLDOWN_MS,
        headers: { 'user-agent': 'nslab-lti/1' },
      });
      this.sets.set(p.jwksUrl, set);
    }
    return set;
  }
}

export type MessageType = typeof RESOURCE_LINK_REQUEST | typeof DEEP_LINKING_REQUEST;

/** What a verified launch says, in the shapes nslab uses. */
export interface VerifiedLaunch {
  platform: LtiPlatform;
  platformId: string;
  messageType: MessageType;
  deploymentId: string;
  /** The LMS's id for the user (absent only in an anonymous Deep Linking request). */
  sub: string | null;
  custom: Record<string, string>;
  lang: 'en' | 'zh';
  returnUrl: string | null;
  name: string | null;
  /** Where grades go, when the platform offers the score scope on a line item. */
  lineitem: string | null;
  deepLinking: z.infer<typeof DeepLinkingSettingsClaim> | null;
  resourceLinkId: string | null;
  claims: JWTPayload;
}

export type LaunchResult = { ok: true; launch: VerifiedLaunch } | ({ ok: false } & Refusal);

const TITLE = 'This launch was refused / 启动被拒绝';

function refuse(status: number, ...lines: string[]): LaunchResult {
  return { ok: false, status, title: TITLE, lines };
}

const isHttpUrl = (u: unknown): u is string => {
  if (typeof u !== 'string' || u.length > 2048) return false;
  try {
    const p = new URL(u);
    return p.protocol === 'https:' || p.protocol === 'http:';
  } catch {
    return false;
  }
};

/** An LTI user id: 1 to 255 characters, none of them control characters. */
const isUserId = (s: unknown): s is string => typeof s === 'string' && s.length >= 1 && s.length <= 255 && !/[\p{Cc}\p{Cs}]/u.test(s);

/** A person's name as the embed view may show it: one line, at most 80 characters, or null. */
function displayName(c: JWTPayload): string | null {
  const given = typeof c.given_name === 'string' ? c.given_name : '';
  const family = typeof c.family_name === 'string' ? c.family_name : '';
  const raw = typeof c.name === 'string' && c.name.trim() ? c.name : `${given} ${family}`;
  const clean = raw
    .replace(/[\p{Cc}\p{Cs}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return clean ? [...clean].slice(0, 80).join('').trim() : null;
}

function langOf(custom: Record<string, string>, presentationLocale: string | null | undefined, locale: unknown): 'en' | 'zh' {
  const pick = custom.lang ?? presentationLocale ?? (typeof locale === 'string' ? locale : '');
  return /^zh\b/i.test(pick) ? 'zh' : 'en';
}

/** A jose verification failure in plain words. */
function joseRefusal(err: unknown, p: LtiPlatform): LaunchResult {
  if (err instanceof errors.JWTExpired && err.claim === 'iat') {
    return refuse(401, `The launch token was issued more than ${MAX_TOKEN_AGE_S / 60} minutes ago (its iat): it is too old to use.`);
  }
  if (err instanceof errors.JWTExpired) {
    const exp = typeof err.payload.exp === 'number' ? new Date(err.payload.exp * 1000).toISOString() : 'unknown';
    return refuse(401, `The launch token has expired (its exp is ${exp}): launches must be used within moments of being made.`);
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    const c = err.payload;
    switch (err.claim) {
      case 'aud': {
        const aud = Array.isArray(c.aud) ? c.aud.join(', ') : String(c.aud ?? '(none)');
        return refuse(
          403,
          `The launch token is meant for another tool: its audience (aud: ${aud}) does not include nslab's client id ${p.clientId} at ${p.issuer}.`,
        );
      }
      case 'iss':
        return refuse(403, `The launch token was issued by ${String(c.iss ?? '(nobody)')}, not by ${p.issuer}, where this login started.`);
      case 'iat':
        return refuse(401, 'The launch token says it was issued in the future (its iat): the platform and nslab disagree about the time.');
      case 'nbf':
        return refuse(401, 'The launch token is not valid yet (nbf): the platform and nslab disagree about the time.');
      default:
        return refuse(400, `The launch token's ${err.claim} claim is ${err.reason === 'missing' ? 'missing' : 'not valid'}.`);
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return refuse(401, `The launch token's signature does not match the keys ${p.issuer} publishes: it was forged or altered on the way.`);
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return refuse(
      401,
      `The launch token is signed with a key ${p.issuer} does not publish at ${p.jwksUrl}: it was forged, or the platform has not published its new key yet.`,
    );
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return refuse(401, 'The launch token is not signed with RS256, which LTI 1.3 requires.');
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSENotSupported) {
    return refuse(400, 'The id_token is not a well-formed signed JWT.');
  }
  if (err instanceof errors.JWKSTimeout) return refuse(502, `nslab could not fetch the keys of ${p.issuer} from ${p.jwksUrl} in time. Try again in a moment.`);
  return refuse(502, `nslab could not fetch the keys of ${p.issuer} from ${p.jwksUrl}, so it cannot check the launch. Try again in a moment.`);
}

/** The claim's shape, or a refusal naming it. */
function claimOf<T extends z.ZodType>(
  c: JWTPayload,
  name: string,
  schema: T,
  what: string,
): { ok: true; value: z.output<T> | null } | { ok: false; r: LaunchResult } {
  const v = c[name];
  if (v === undefined || v === null) return { ok: true, value: null };
  const parsed = schema.safeParse(v);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  const at = issue?.path.length ? ` (${issue.path.join('.')})` : '';
  return { ok: false, r: refuse(400, `The launch's ${what} claim is not what LTI 1.3 describes${at}.`) };
}

/**
 * Check a launch: its login's state, then its id_token. `form` is the platform's post
 * (id_token and state, or error and error_description when the platform refused the login).
 */
export async function verifyLaunch(
  form: Record<string, string | undefined>,
  ctx: { store: Store; platforms: readonly LtiPlatform[]; keys: PlatformKeys; now?: number },
): Promise<LaunchResult> {
  const now = ctx.now ?? Date.now();
  const state = form.state;
  if (form.error) {
    if (state) await ctx.store.lti.consumeLtiLogin(state, now);
    const desc = form.error_description ? `: ${form.error_description.slice(0, 300)}` : '';
    return refuse(
      403,
      `The platform did not sign you in for this launch (${form.error.slice(0, 60)}${desc}).`,
      'Sign in to your course first, then open the activity again.',
    );
  }
  if (!state) return refuse(400, 'The launch has no state: it did not come from a login at this nslab (LTI launches start at /lti/login).');
  if (!form.id_token) return refuse(400, 'The launch has no id_token: the platform must post one to /lti/launch.');

  const login: LtiLoginRow | undefined = await ctx.store.lti.consumeLtiLogin(state, now);
  if (!login) {
    return refuse(
      403,
      "This launch's state is not one nslab is waiting for: it was used already (each launch works once), its login is more than 10 minutes old, or it never started at this nslab.",
    );
  }
  const p = platformById(ctx.platforms, login.platform);
  if (!p) return refuse(403, 'The platform this login started with is no longer registered with this nslab.');

  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(form.id_token, ctx.keys.of(p), {
      algorithms: ['RS256'],
      issuer: p.issuer,
      audience: p.clientId,
      requiredClaims: ['iat', 'exp', 'nonce'],
      clockTolerance: CLOCK_TOLERANCE_S,
      maxTokenAge: MAX_TOKEN_AGE_S,
      currentDate: new Date(now),
    }));
  } catch (err) {
    return joseRefusal(err, p);
  }

  const multi = Array.isArray(claims.aud) && claims.aud.length > 1;
  if (claims.azp !== undefined && claims.azp !== p.clientId) {
    return refuse(403, `The launch token names another authorized party (azp: ${String(claims.azp)}), not nslab's client id ${p.clientId}.`);
  }
  if (multi && claims.azp === undefined) return refuse(403, `The launch token has several audiences but no azp naming nslab's client id ${p.clientId}.`);
  if (claims.nonce !== login.nonce) {
    return refuse(403, "The launch token's nonce is not the one this login was given: the token belongs to another launch (it was replayed).");
  }
  const version = claims[CLAIM.version];
  if (version !== LTI_VERSION) return refuse(400, `The launch is LTI version ${String(version ?? '(none)')}; nslab speaks ${LTI_VERSION}.`);
  const deployment = claims[CLAIM.deploymentId];
  if (typeof deployment !== 'string' || !deployment) return refuse(400, 'The launch token has no deployment_id claim.');
  if (!p.deploymentIds.includes(deployment)) {
    return refuse(403, `The deployment ${deployment.slice(0, 255)} of ${p.issuer} is not registered with this nslab (lti.platforms, deploymentIds).`);
  }
  const type = claims[CLAIM.messageType];
  if (type !== RESOURCE_LINK_REQUEST && type !== DEEP_LINKING_REQUEST) {
    return refuse(
      400,
      `nslab cannot handle a ${String(type ?? 'launch without a message_type').slice(0, 60)}: it takes ${RESOURCE_LINK_REQUEST} and ${DEEP_LINKING_REQUEST}.`,
    );
  }

  const custom = claimOf(claims, CLAIM.custom, CustomClaim, 'custom');
  if (!custom.ok) return custom.r;
  const presentation = claimOf(claims, CLAIM.launchPresentation, LaunchPresentationClaim, 'launch_presentation');
  if (!presentation.ok) return presentation.r;
  const ags = claimOf(claims, CLAIM.agsEndpoint, AgsEndpointClaim, 'Assignment and Grade Services endpoint');
  if (!ags.ok) return ags.r;
  const link = claimOf(claims, CLAIM.resourceLink, ResourceLinkClaim, 'resource_link');
  if (!link.ok) return link.r;
  const dl = claimOf(claims, CLAIM.deepLinkingSettings, DeepLinkingSettingsClaim, 'deep_linking_settings');
  if (!dl.ok) return dl.r;

  const sub = isUserId(claims.sub) ? claims.sub : null;
  if (claims.sub !== undefined && sub === null) return refuse(400, "The launch token's sub (the user's id) is not an LTI user id (1 to 255 characters).");
  if (type === RESOURCE_LINK_REQUEST) {
    if (!link.value) return refuse(400, 'The resource link launch has no resource_link claim (with its id).');
    if (!sub) return refuse(400, "The launch is anonymous (no sub): nslab keeps each learner's lab and progress, so it needs to know who they are.");
  } else {
    if (!dl.value) return refuse(400, 'The Deep Linking request has no deep_linking_settings claim.');
    if (!isHttpUrl(dl.value.deep_link_return_url)) return refuse(400, "The Deep Linking request's deep_link_return_url is not an http(s) URL.");
  }

  const customs = custom.value ?? {};
  const returnUrl = presentation.value?.return_url;
  const lineitem = ags.value?.scope.includes(SCORE_SCOPE) && isHttpUrl(ags.value.lineitem) ? ags.value.lineitem : null;
  return {
    ok: true,
    launch: {
      platform: p,
      platformId: ltiPlatformId(p),
      messageType: type,
      deploymentId: deployment,
      sub,
      custom: customs,
      lang: langOf(customs, presentation.value?.locale, claims.locale),
      returnUrl: isHttpUrl(returnUrl) ? returnUrl : null,
      name: displayName(claims),
      lineitem,
      deepLinking: type === DEEP_LINKING_REQUEST ? dl.value : null,
      resourceLinkId: link.value?.id ?? null,
      claims,
    },
  };
}

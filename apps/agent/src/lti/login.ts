// OIDC third-party initiated login (LTI 1.3 core, section 5.1.1): the platform sends the browser
// to /lti/login with its issuer and a login hint; the tool answers with the authentication
// request, a redirect to the platform's authorization endpoint carrying a fresh state and nonce.
// Both are kept in the store (used once, within LOGIN_TTL_MS): the launch that comes back must
// bring that state, and its id_token that nonce.
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/index.js';
import { findPlatform, ltiPlatformId, type LtiPlatform } from './platforms.js';
import type { Refusal } from './pages.js';

/** How long a login may take, from the tool's redirect to the launch coming back. */
export const LOGIN_TTL_MS = 10 * 60_000;

/** What the platform sends to the login endpoint (query or form). */
export interface LoginParams {
  iss?: string;
  login_hint?: string;
  target_link_uri?: string;
  lti_message_hint?: string;
  client_id?: string;
  lti_deployment_id?: string;
}

export type LoginResult = { ok: true; location: string } | ({ ok: false } & Refusal);

/** A random token for a state or nonce: 192 bits, base64url. */
export function randomToken(): string {
  return randomBytes(24).toString('base64url');
}

const isHttpUrl = (u: string) => {
  try {
    const p = new URL(u);
    return (p.protocol === 'https:' || p.protocol === 'http:') && u.length <= 2048;
  } catch {
    return false;
  }
};

export async function startLogin(
  params: LoginParams,
  ctx: { store: Store; platforms: readonly LtiPlatform[]; toolUrl: string; now?: number },
): Promise<LoginResult> {
  const refuse = (status: number, why: string): LoginResult => ({ ok: false, status, title: 'This LTI login cannot start / 无法开始登录', lines: [why] });
  const { iss, login_hint: loginHint, target_link_uri: target } = params;
  if (!iss) return refuse(400, 'The platform did not say who it is: the login request has no iss parameter.');
  if (!loginHint) return refuse(400, 'The login request has no login_hint parameter, which the platform must send.');
  if (!target) return refuse(400, 'The login request has no target_link_uri parameter, which the platform must send.');
  const found = findPlatform(ctx.platforms, iss, params.client_id);
  if (found === 'ambiguous') return refuse(400, `Several registrations of ${iss} exist at this nslab; the platform must send client_id to say which.`);
  if (found === 'unknown') {
    const which = params.client_id ? `${iss} with client id ${params.client_id}` : iss;
    return refuse(403, `The platform ${which} is not registered with this nslab (lti.platforms in its configuration).`);
  }
  const p = found;
  if (params.lti_deployment_id && !p.deploymentIds.includes(params.lti_deployment_id)) {
    return refuse(403, `The deployment ${params.lti_deployment_id} of ${p.issuer} is not registered with this nslab.`);
  }
  const now = ctx.now ?? Date.now();
  const state = randomToken();
  const nonce = randomToken();
  await ctx.store.lti.createLtiLogin({
    state,
    nonce,
    platform: ltiPlatformId(p),
    expiresAt: now + LOGIN_TTL_MS,
    targetLinkUri: isHttpUrl(target) ? target : null,
    at: now,
  });
  const auth = new URL(p.authUrl);
  const q = auth.searchParams;
  q.set('scope', 'openid');
  q.set('response_type', 'id_token');
  q.set('response_mode', 'form_post');
  q.set('prompt', 'none');
  q.set('client_id', p.clientId);
  q.set('redirect_uri', `${ctx.toolUrl}/lti/launch`);
  q.set('login_hint', loginHint);
  if (params.lti_message_hint) q.set('lti_message_hint', params.lti_message_hint);
  q.set('state', state);
  q.set('nonce', nonce);
  return { ok: true, location: auth.toString() };
}

// Deep Linking 2.0: a teacher adding an activity in their LMS picks an nslab lesson. The
// LtiDeepLinkingRequest launch shows the picker (pages.ts); the picker's choice comes back to
// POST /lti/deep-link with a reference to that launch, and the tool answers with a form that
// posts a signed LtiDeepLinkingResponse (one ltiResourceLink with the custom parameter
// lesson=<id>) to the platform's deep_link_return_url.
//
// The reference is a JWT the tool signs (so the return URL, the deployment and the platform's
// `data` cannot be altered in the page) whose id is a one-time entry in the store's LTI logins
// (so a choice is sent once, within DEEP_LINK_TTL_MS, by whichever agent of a shared store gets it).
import { errors } from 'jose';
import { z } from 'zod';
import type { Store } from '../store/index.js';
import { CLAIM, DEEP_LINKING_RESPONSE, LTI_VERSION } from './claims.js';
import type { ToolKeys } from './keys.js';
import type { VerifiedLaunch } from './launch.js';
import { randomToken } from './login.js';
import type { PickerLesson, Refusal } from './pages.js';
import { platformById, type LtiPlatform } from './platforms.js';

/** How long the picker may stay open. */
export const DEEP_LINK_TTL_MS = 30 * 60_000;
/** How long the platform has to receive the response. */
const RESPONSE_TTL_S = 300;
const REF_TYP = 'nslab-deep-link-ref+jwt';
const REF_AUD = 'nslab:lti-deep-link';

const RefClaims = z.object({
  jti: z.string(),
  platform: z.string(),
  deployment: z.string(),
  returnUrl: z.string(),
  data: z.string().nullable(),
  lineItem: z.boolean(),
  lang: z.enum(['en', 'zh']),
});

/** The picker's reference to a verified Deep Linking request. */
export async function deepLinkRef(launch: VerifiedLaunch, ctx: { store: Store; keys: ToolKeys; now?: number }): Promise<string> {
  const settings = launch.deepLinking;
  if (!settings) throw new Error('deepLinkRef: not a Deep Linking request');
  const now = ctx.now ?? Date.now();
  const jti = randomToken();
  await ctx.store.lti.createLtiLogin({
    state: jti,
    nonce: randomToken(),
    platform: launch.platformId,
    expiresAt: now + DEEP_LINK_TTL_MS,
    targetLinkUri: settings.deep_link_return_url,
    at: now,
  });
  const key = await ctx.keys.get();
  const claims: z.infer<typeof RefClaims> = {
    jti,
    platform: launch.platformId,
    deployment: launch.deploymentId,
    returnUrl: settings.deep_link_return_url,
    data: settings.data ?? null,
    lineItem: settings.accept_lineitem !== false,
    lang: launch.lang,
  };
  return key.sign({ ...claims, aud: REF_AUD }, DEEP_LINK_TTL_MS / 1000, REF_TYP, now);
}

/** Can the platform take what nslab sends (an LTI resource link)? */
export function acceptsResourceLinks(launch: VerifiedLaunch): boolean {
  return launch.deepLinking?.accept_types.includes('ltiResourceLink') ?? false;
}

export type DeepLinkResult = { ok: true; returnUrl: string; jwt: string; lesson: PickerLesson } | ({ ok: false } & Refusal);

const TITLE = 'This lesson cannot be added / 无法添加这一课';

/** The signed response for the picker's choice, and where to post it. */
export async function deepLinkResponse(
  form: Record<string, string | undefined>,
  ctx: { store: Store; keys: ToolKeys; platforms: readonly LtiPlatform[]; lesson: (id: string) => PickerLesson | undefined; toolUrl: string; now?: number },
): Promise<DeepLinkResult> {
  const refuse = (status: number, why: string): DeepLinkResult => ({ ok: false, status, title: TITLE, lines: [why] });
  const now = ctx.now ?? Date.now();
  if (!form.ref) return refuse(400, 'The choice has no reference to its Deep Linking launch: pick the lesson from the nslab picker.');
  const key = await ctx.keys.get();
  let ref: z.infer<typeof RefClaims>;
  try {
    const payload = await key.verifyOwn(form.ref, { typ: REF_TYP, audience: REF_AUD, currentDate: new Date(now) });
    ref = RefClaims.parse(payload);
  } catch (err) {
    if (err instanceof errors.JWTExpired)
      return refuse(410, `The picker was open for more than ${DEEP_LINK_TTL_MS / 60_000} minutes: add the activity again from your course.`);
    return refuse(400, 'This choice did not come from an nslab picker, or it was altered on the way.');
  }
  const lesson = form.lesson ? ctx.lesson(form.lesson) : undefined;
  if (!lesson) return refuse(404, `nslab has no lesson ${String(form.lesson ?? '(none)').slice(0, 64)}.`);
  const p = platformById(ctx.platforms, ref.platform);
  if (!p) return refuse(403, 'The platform of this Deep Linking request is no longer registered with this nslab.');
  if (!(await ctx.store.lti.consumeLtiLogin(ref.jti, now))) {
    return refuse(409, 'This choice was sent already (a picker sends one lesson, once), or its picker is too old.');
  }
  const title = ref.lang === 'zh' ? lesson.titles.zh : lesson.titles.en;
  const item: Record<string, unknown> = {
    type: 'ltiResourceLink',
    title,
    text: ref.lang === 'zh' ? lesson.titles.en : lesson.titles.zh,
    url: `${ctx.toolUrl}/lti/launch`,
    custom: { lesson: lesson.id },
  };
  if (ref.lineItem && lesson.tasks > 0) item.lineItem = { scoreMaximum: lesson.tasks, label: title, resourceId: lesson.id };
  const jwt = await key.sign(
    {
      iss: p.clientId,
      aud: p.issuer,
      nonce: randomToken(),
      [CLAIM.deploymentId]: ref.deployment,
      [CLAIM.messageType]: DEEP_LINKING_RESPONSE,
      [CLAIM.version]: LTI_VERSION,
      [CLAIM.contentItems]: [item],
      ...(ref.data !== null ? { [CLAIM.data]: ref.data } : {}),
    },
    RESPONSE_TTL_S,
    'JWT',
    now,
  );
  return { ok: true, returnUrl: ref.returnUrl, jwt, lesson };
}

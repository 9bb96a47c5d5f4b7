// The names LTI 1.3 gives its claims, message types and scopes (IMS LTI 1.3 core, Deep Linking
// 2.0, Assignment and Grade Services 2.0), and the shapes nslab reads of them. Unknown claims are
// kept and ignored: platforms send many more than a tool needs.
import { z } from 'zod';

const LTI = 'https://purl.imsglobal.org/spec/lti/claim/';
const DL = 'https://purl.imsglobal.org/spec/lti-dl/claim/';

export const CLAIM = {
  messageType: `${LTI}message_type`,
  version: `${LTI}version`,
  deploymentId: `${LTI}deployment_id`,
  targetLinkUri: `${LTI}target_link_uri`,
  resourceLink: `${LTI}resource_link`,
  roles: `${LTI}roles`,
  custom: `${LTI}custom`,
  launchPresentation: `${LTI}launch_presentation`,
  agsEndpoint: 'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint',
  deepLinkingSettings: `${DL}deep_linking_settings`,
  contentItems: `${DL}content_items`,
  data: `${DL}data`,
  msg: `${DL}msg`,
} as const;

export const LTI_VERSION = '1.3.0';
export const RESOURCE_LINK_REQUEST = 'LtiResourceLinkRequest';
export const DEEP_LINKING_REQUEST = 'LtiDeepLinkingRequest';
export const DEEP_LINKING_RESPONSE = 'LtiDeepLinkingResponse';

export const SCORE_SCOPE = 'https://purl.imsglobal.org/spec/lti-ags/scope/score';
export const SCORE_MEDIA_TYPE = 'application/vnd.ims.lis.v1.score+json';
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const text = z.string().max(4096);

export const ResourceLinkClaim = z.looseObject({ id: z.string().min(1).max(255), title: text.nullish() });

export const LaunchPresentationClaim = z.looseObject({
  document_target: z.string().max(64).nullish(),
  return_url: z.string().max(2048).nullish(),
  locale: z.string().max(64).nullish(),
});

export const AgsEndpointClaim = z.looseObject({
  scope: z.array(z.string().max(512)).max(50).default([]),
  lineitem: z.string().max(2048).nullish(),
  lineitems: z.string().max(2048).nullish(),
});

export const DeepLinkingSettingsClaim = z.looseObject({
  deep_link_return_url: z.string().min(1).max(2048),
  accept_types: z.array(z.string().max(64)).max(50),
  accept_presentation_document_targets: z.array(z.string().max(64)).max(50).default([]),
  accept_multiple: z.boolean().nullish(),
  accept_lineitem: z.boolean().nullish(),
  auto_create: z.boolean().nullish(),
  title: text.nullish(),
  text: text.nullish(),
  /** Opaque to the tool; echoed back in the response. */
  data: z.string().max(4096).nullish(),
});

/** Custom parameters: strings by the spec; numbers and booleans from lenient platforms, as text. */
export const CustomClaim = z.record(z.string().max(255), z.unknown()).transform((o) => {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
  return out;
});

// The LTI 1.3 tool's routes (the tool itself is lti/):
//   GET  /lti/jwks       the tool's public keys, for platforms to verify what it signs;
//   GET|POST /lti/login  the third-party initiated login: a redirect to the platform's auth endpoint;
//   POST /lti/launch     the platform's form post (id_token, state): verified, then the lesson's
//                        embed view (a resource link) or the lesson picker (a Deep Linking request);
//   POST /lti/deep-link  the picker's choice: a form that posts the signed response to the platform.
// Form bodies are read up to MAX_FORM_BYTES (413 beyond). A refusal is a page that says why;
// nothing is opened then. How to register nslab in an LMS: docs/lti.md.
import type { AddressOf } from './address.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Catalogue, CatalogueEntry } from '../lessons/catalogue.js';
import type { PortalActivity } from '../portal/activity.js';
import type { LtiTool, PickerLesson, Refusal } from '../lti/index.js';
import { autoPostPage, pickerPage, refusalPage } from '../lti/pages.js';
import { randomToken } from '../lti/login.js';
import type { EmbedSessions } from './embed.js';
import type { KeyedBuckets } from './rate.js';
import { BodyTooLarge, readBody } from './body.js';

/** The largest form the LTI routes read (an id_token with many claims is a few KiB). */
export const MAX_FORM_BYTES = 64 * 1024;

export interface LtiHttpDeps {
  lti: LtiTool;
  catalogue: Catalogue;
  embeds: EmbedSessions;
  activity: PortalActivity;
  /** The agent's URL as browsers reach it (config.publicUrl); by default each request's Host. */
  publicUrl: string | null;
  /** Logins per client address (each keeps a row in the store until it expires). */
  loginsPerAddress?: KeyedBuckets;
  /** Where a request comes from (address.ts); by default the peer's address. */
  addressOf?: AddressOf;
  log: (msg: string, extra: Record<string, unknown>) => void;
}

const LTI_PATHS = new Set(['/lti/jwks', '/lti/login', '/lti/launch', '/lti/deep-link']);

type Form = Record<string, string>;

class BodyError extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.lines[0]);
  }
}

/** A form body (application/x-www-form-urlencoded), at most MAX_FORM_BYTES. */
async function readForm(req: IncomingMessage): Promise<Form> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new BodyError({
      status: 415,
      title: 'This request cannot be read / 无法读取请求',
      lines: ['LTI messages are posted as an HTML form (application/x-www-form-urlencoded).'],
    });
  }
  const tooLarge = new BodyError({
    status: 413,
    title: 'This request is too large / 请求过大',
    lines: [`nslab reads LTI forms of at most ${MAX_FORM_BYTES / 1024} KiB.`],
  });
  let body: Buffer;
  try {
    body = await readBody(req, MAX_FORM_BYTES);
  } catch (err) {
    throw err instanceof BodyTooLarge ? tooLarge : err;
  }
  return formOf(new URLSearchParams(body.toString('utf8')));
}

function formOf(params: URLSearchParams): Form {
  const out: Form = {};
  // The first value of each name, as a platform sends it once.
  for (const [k, v] of params) if (!(k in out)) out[k] = v;
  return out;
}

function queryOf(req: IncomingMessage): Form {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? {} : formOf(new URLSearchParams(url.slice(q + 1)));
}

function methodNotAllowed(res: ServerResponse, allow: string[], what: string): void {
  res.setHeader('allow', allow.join(', '));
  refusalPage(res, { status: 405, title: 'Not here / 此处不可用', lines: [what] });
}

function pickerLesson(e: CatalogueEntry): PickerLesson {
  return { id: e.def.id, titles: { en: e.titles.en ?? e.def.title, zh: e.titles.zh ?? e.titles.en ?? e.def.title }, tasks: e.tasks.length };
}

/** Answer an LTI route; false when `path` is not one. */
export function serveLti(req: IncomingMessage, res: ServerResponse, path: string, deps: LtiHttpDeps): boolean {
  if (!LTI_PATHS.has(path)) return false;
  const method = req.method ?? 'GET';
  const { lti, log } = deps;
  const toolUrl = () => {
    if (deps.publicUrl) return deps.publicUrl.replace(/\/+$/, '');
    const proto = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
    return `${proto}://${req.headers.host}`;
  };

  const handle = async (): Promise<void> => {
    if (path === '/lti/jwks') {
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, ['GET', 'HEAD'], 'The key set is fetched with GET.');
      const body = JSON.stringify(await lti.jwks());
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' });
      res.end(method === 'HEAD' ? undefined : body);
      return;
    }

    if (path === '/lti/login') {
      if (method !== 'GET' && method !== 'POST') return methodNotAllowed(res, ['GET', 'POST'], 'An LTI login is a GET or a form POST from the platform.');
      const rate = deps.loginsPerAddress?.take(deps.addressOf?.(req) ?? req.socket.remoteAddress ?? 'unknown');
      if (rate && !rate.ok) {
        res.setHeader('retry-after', String(Math.max(1, rate.retryInS)));
        return refusalPage(res, {
          status: 429,
          title: 'Too many launches / 启动过于频繁',
          lines: [`Too many LTI logins from this address; try again in ${Math.max(1, rate.retryInS)} s.`],
        });
      }
      const params = method === 'POST' ? { ...queryOf(req), ...(await readForm(req)) } : queryOf(req);
      const r = await lti.login(params, toolUrl());
      if (!r.ok) return refusalPage(res, r);
      res.writeHead(302, { location: r.location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
      res.end();
      return;
    }

    if (path === '/lti/launch') {
      if (method !== 'POST') return methodNotAllowed(res, ['POST'], "A launch is the platform's form post; open the activity from your course.");
      const r = await lti.launch(await readForm(req));
      if (!r.ok) {
        log('an LTI launch was refused', { status: r.status, why: r.lines[0] });
        return refusalPage(res, r);
      }
      const l = r.launch;
      if (l.messageType === 'LtiDeepLinkingRequest') {
        if (!lti.acceptsResourceLinks(l)) {
          const types = l.deepLinking?.accept_types.join(', ') || 'none';
          return refusalPage(res, {
            status: 400,
            title: 'nslab cannot add an activity here / 无法在此添加活动',
            lines: [`nslab offers LTI resource links (ltiResourceLink), and this place of the course takes other content (${types}).`],
          });
        }
        const ref = await lti.deepLinkRef(l);
        return pickerPage(res, { lessons: deps.catalogue.list().map(pickerLesson), ref, lang: l.lang, heading: l.deepLinking?.title });
      }
      const lesson = l.custom.lesson;
      const entry = lesson ? deps.catalogue.get(lesson) : undefined;
      if (!lesson || !entry) {
        const known = deps.catalogue.ids().join(', ');
        return refusalPage(res, {
          status: lesson ? 404 : 400,
          title: lesson ? 'This lesson does not exist / 这一课不存在' : 'Which lesson? / 哪一课？',
          lines: [
            lesson
              ? `nslab has no lesson ${lesson.slice(0, 64)}. Ask your teacher to set the activity's custom parameter lesson to one of: ${known}.`
              : `The activity does not say which lesson to open. Its custom parameter lesson=<id> must name one of: ${known}.`,
          ],
        });
      }
      const source = lti.source(l);
      const user = l.sub!;
      const sessionId = deps.embeds.sessionFor(source, user);
      const location = await deps.embeds.begin(req, res, { source, user, lesson: entry.def.id, lang: l.lang, returnUrl: l.returnUrl, name: l.name });
      deps.activity.forget(sessionId);
      await lti
        .rememberGrades(
          l,
          sessionId,
          entry.def.id,
          entry.tasks.map((t) => t.id),
        )
        .catch((err: Error) => {
          // The lesson opens; its grades will not reach the platform, which the operator hears of.
          log('could not keep where an LTI launch wants its grades', { platform: l.platform.issuer, lesson: entry.def.id, error: err.message });
        });
      res.writeHead(303, { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
      res.end();
      return;
    }

    // /lti/deep-link
    if (method !== 'POST') return methodNotAllowed(res, ['POST'], 'The lesson picker posts its choice here.');
    const r = await lti.deepLinkResponse(
      await readForm(req),
      (id) => {
        const e = deps.catalogue.get(id);
        return e && pickerLesson(e);
      },
      toolUrl(),
    );
    if (!r.ok) return refusalPage(res, r);
    const title = `Adding ${r.lesson.titles.en} / 正在添加${r.lesson.titles.zh}`;
    autoPostPage(res, { action: r.returnUrl, fields: { JWT: r.jwt }, title, nonce: randomToken() });
  };

  handle().catch((err: Error) => {
    if (err instanceof BodyError) {
      if (!res.headersSent) {
        res.setHeader('connection', 'close');
        refusalPage(res, err.refusal);
      }
      return;
    }
    log('an LTI request failed', { path, error: err.message });
    if (!res.headersSent) {
      refusalPage(res, {
        status: 503,
        title: 'nslab cannot do this right now / 暂时无法完成',
        lines: ['Something nslab needs is not available at the moment; try again shortly.'],
      });
    }
  });
  return true;
}

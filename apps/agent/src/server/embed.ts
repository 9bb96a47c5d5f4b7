// Embedded views: a lesson inside a portal's (or an LMS's) page, in a third-party iframe. A
// launch (a portal's one-time link, or an LTI launch) gives the browser a cookie of its own,
// `nslab_embed`, naming the session of that portal user: the same session at every launch, so
// the learner's progress follows them. The cookie is `SameSite=None; Secure; Partitioned`: a
// frame on the portal's site gets a cookie jar of its own for nslab (CHIPS), which a page of
// another site cannot read or use. Browsers accept `Secure` from plain-HTTP localhost and
// loopback addresses only; any other host needs HTTPS (docs/embedding.md).
//
// What the embed view may be framed by, and where it posts its events: the origins of the
// portal's key (or of the LMS), looked up live, so a revoked key stops its embeds at once.
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Store } from '../store/index.js';
import { Sessions } from './session.js';

export const EMBED_COOKIE = 'nslab_embed';

/** How long a portal's learner keeps their embed session without a new launch. */
const EMBED_MAX_AGE_S = 30 * 24 * 3600;

/** The path of a lesson's embed view. */
export const EMBED_PATH = /^\/(en|zh)\/embed\/([a-z][a-z0-9-]{0,63})\/?$/;

export interface EmbedStart {
  /** 'key:<key id>' or 'lti:<platform id>'. */
  source: string;
  /** The portal's (or LMS's) id for the learner. */
  user: string;
  lesson: string;
  lang: 'en' | 'zh';
  returnUrl: string | null;
  name: string | null;
}

/** What the embed view is told about its session (GET /api/embed). */
export interface EmbedContext {
  lesson: string;
  lang: 'en' | 'zh';
  /** Origins that may frame the view and receive its events. */
  origins: string[];
  returnUrl: string | null;
  name: string | null;
}

export class EmbedSessions {
  private readonly cookies: Sessions;

  constructor(
    private readonly key: Buffer,
    private readonly store: Store,
    /** The origins a source's pages are on; null when the source is gone (a revoked key). */
    private readonly originsOf: (source: string) => Promise<string[] | null>,
  ) {
    this.cookies = new Sessions(key, EMBED_COOKIE);
  }

  /** The session of a portal's learner: the same for the same source and user, every time. */
  sessionFor(source: string, user: string): string {
    const mac = createHmac('sha256', this.key).update(`embed\n${source}\n${user}`).digest('base64url');
    return `p${mac.slice(0, 31)}`;
  }

  /**
   * Start the learner's embedded session: record them, give the browser their cookie, and
   * return where to send it (the lesson's embed view).
   */
  async begin(_req: IncomingMessage, res: ServerResponse, o: EmbedStart): Promise<string> {
    const sid = this.sessionFor(o.source, o.user);
    await this.store.portal.upsertPortalUser({
      sessionId: sid,
      source: o.source,
      user: o.user,
      name: o.name,
      lesson: o.lesson,
      lang: o.lang,
      returnUrl: o.returnUrl,
    });
    res.setHeader('Set-Cookie', `${EMBED_COOKIE}=${this.cookies.value(sid)}; Path=/; Max-Age=${EMBED_MAX_AGE_S}; HttpOnly; Secure; SameSite=None; Partitioned`);
    return `/${o.lang}/embed/${o.lesson}`;
  }

  /** The embedded session the request's cookie names, if its signature is ours. */
  fromRequest(req: IncomingMessage): string | null {
    return this.cookies.fromRequest(req);
  }

  /** What the view of this session may know; null when it is not an embedded session. */
  async context(sid: string): Promise<EmbedContext | null> {
    const u = await this.store.portal.portalUser(sid);
    if (!u) return null;
    const origins = await this.originsOf(u.source);
    if (!origins) return null;
    return { lesson: u.lesson, lang: u.lang, origins, returnUrl: u.returnUrl, name: u.name };
  }
}

/** Does this request ask for the embedded session (the view's socket and fetches say embed=1)? */
export function wantsEmbed(req: IncomingMessage): boolean {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q >= 0 && new URLSearchParams(url.slice(q + 1)).get('embed') === '1';
}

/**
 * The Content-Security-Policy of a page framed by these origins only. null: an embed view
 * without a session, which says only "open this lesson from your portal" and may be framed by
 * anyone (a frame whose cookie the browser dropped shows that rather than a refusal).
 */
export function frameAncestors(origins: string[] | null): string {
  if (origins === null) return 'frame-ancestors *';
  return `frame-ancestors 'self'${origins.map((o) => ` ${o}`).join('')}`;
}

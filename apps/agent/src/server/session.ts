// Browser sessions: the agent's token never goes into a page. Instead every page response
// carries an HttpOnly, SameSite=Strict cookie naming a random session, signed with a key the
// agent keeps in its store (root only, never in a page), so a session outlives a restart of the
// agent and its progress with it. A WebSocket that presents a valid cookie from the agent's own
// origin is that session: it may open labs and reach only the labs it opened.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const SESSION_COOKIE = 'nslab_session';

/** How long a browser keeps its session (and so its progress) without coming back. */
const COOKIE_MAX_AGE_S = 180 * 24 * 3600;

export class Sessions {
  /**
   * `key`: the signing key (32 bytes or more); a fresh random one when not given. `cookie`: the
   * cookie's name (embedded views have their own, embed.ts).
   */
  constructor(
    private readonly key: Buffer = randomBytes(32),
    private readonly cookie = SESSION_COOKIE,
  ) {
    if (key.length < 32) throw new Error('a session signing key must have at least 32 bytes');
  }

  private sign(sid: string): string {
    return createHmac('sha256', this.key).update(sid).digest('base64url');
  }

  /** The session named by the request's cookie, if its signature is ours. */
  fromRequest(req: IncomingMessage): string | null {
    const header = req.headers.cookie ?? '';
    for (const part of header.split(';')) {
      const [name, value] = part.trim().split('=');
      if (name !== this.cookie || !value) continue;
      const [sid, sig] = value.split('.');
      if (!sid || !sig || !/^[A-Za-z0-9_-]{16,64}$/.test(sid)) return null;
      const want = Buffer.from(this.sign(sid));
      const got = Buffer.from(sig);
      return want.length === got.length && timingSafeEqual(want, got) ? sid : null;
    }
    return null;
  }

  /** The cookie's value for a session: its id and our signature of it. */
  value(sid: string): string {
    return `${sid}.${this.sign(sid)}`;
  }

  /** Make sure the response carries a valid session cookie; returns the session. */
  ensure(req: IncomingMessage, res: ServerResponse): string {
    const existing = this.fromRequest(req);
    if (existing) return existing;
    const sid = randomBytes(18).toString('base64url');
    const secure = (req.headers['x-forwarded-proto'] ?? '') === 'https' ? '; Secure' : '';
    res.setHeader('Set-Cookie', `${this.cookie}=${this.value(sid)}; Path=/; Max-Age=${COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Strict${secure}`);
    return sid;
  }
}

/** Does the upgrade come from a page of this very host (same scheme-less host:port)? */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (!origin || !host) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

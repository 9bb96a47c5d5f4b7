// WebSocket upgrades: only the API's own path is claimed here (others go to the web app, for
// its development server, or are closed). Who is connecting is settled before the handshake: a
// known Host, a right token if one is given (a guesser is slowed down), an allowed Origin for
// browsers, and a session cookie only from such an origin.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocketServer } from 'ws';
import { WS_PATH } from '@nslab/shared';
import { Connection, type ConnectionContext, type Principal } from './connection.js';
import type { Sessions } from './session.js';
import { wantsEmbed, type EmbedSessions } from './embed.js';
import type { WebHandler } from './web.js';
import { bearer, tokenMatches } from './auth.js';
import { misdirectedText, type HostCheck } from './hosts.js';

export interface UpgradeDeps {
  ctx: ConnectionContext;
  wss: WebSocketServer;
  sessions: Sessions;
  /** Embedded views (a portal's iframe) say embed=1 and are their embed cookie's session. */
  embeds: EmbedSessions;
  web: WebHandler | null;
  hostAllowed: HostCheck;
  originAllowed: (req: IncomingMessage) => boolean;
}

export function upgradeHandler({ ctx, wss, sessions, embeds, web, hostAllowed, originAllowed }: UpgradeDeps) {
  const { token, authFailures } = ctx;
  return (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!hostAllowed(req.headers.host)) {
      const body = misdirectedText(req.headers.host);
      socket.write(
        `HTTP/1.1 421 Misdirected Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      socket.destroy();
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path !== WS_PATH) {
      if (web) return web.handleUpgrade(req, socket, head);
      socket.destroy();
      return;
    }
    const refuse = (status: string, why: string) => {
      socket.write(`HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${why}\n`);
      socket.destroy();
    };
    const address = ctx.addressOf(req);
    const given = bearer(req.headers.authorization);
    if (given !== null && !tokenMatches(token, given)) {
      const { ok } = authFailures.take(address);
      return ok ? refuse('401 Unauthorized', 'wrong token') : refuse('429 Too Many Requests', 'too many wrong tokens; wait a minute');
    }
    const v = new URL(req.url ?? '/', 'http://x').searchParams.get('v');
    const requestedVersion = v !== null && /^\d{1,4}$/.test(v) ? Number(v) : null;
    // A browser always names the page's origin: pages of other sites are refused outright.
    if (req.headers.origin !== undefined && !originAllowed(req)) return refuse('403 Forbidden', 'cross-origin WebSocket refused');
    let principal: Principal | null = given !== null ? { kind: 'token' } : null;
    const embed = principal === null && wantsEmbed(req);
    if (!principal) {
      const sid = embed ? embeds.fromRequest(req) : sessions.fromRequest(req);
      if (sid) {
        // A session cookie counts only from a page of an allowed origin (no cross-site WebSocket).
        if (!originAllowed(req)) return refuse('403 Forbidden', 'cross-origin WebSocket refused');
        principal = { kind: 'session', sid };
      }
    }
    const accept = () =>
      wss.handleUpgrade(req, socket, head, (ws) => {
        new Connection(ws, ctx, principal, address, requestedVersion);
      });
    if (!embed || principal?.kind !== 'session') return accept();
    // An embedded session lasts as long as its portal may embed: a revoked key ends it.
    const sid = principal.sid;
    embeds.context(sid).then(
      (c) => (c ? accept() : refuse('401 Unauthorized', 'this embedded session has ended; open the lesson from your portal again')),
      () => refuse('503 Service Unavailable', 'the store is unavailable; try again shortly'),
    );
  };
}

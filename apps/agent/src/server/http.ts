// The agent's HTTP routes: /healthz, /metrics (with the token), /api/session (a session cookie
// without a page), the routes of other files (`routes`: recordings, the portal API, launches,
// the embed script, LTI), and the web app for everything else. A Host the agent does not know
// gets 421 first (hosts.ts). Pages may be framed only by the agent itself, except a lesson's
// embed view, which its portal's origins may frame too (embed.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PROTOCOL_VERSION } from '@nslab/shared';
import type { AgentConfig } from '../config.js';
import type { LabManager } from '../sandbox/labs.js';
import type { Metrics } from './metrics.js';
import type { Sessions } from './session.js';
import type { WebHandler } from './web.js';
import type { Store } from '../store/index.js';
import { bearer, tokenMatches } from './auth.js';
import { misdirectedText, type HostCheck } from './hosts.js';
import { EMBED_PATH, frameAncestors, wantsEmbed, type EmbedSessions } from './embed.js';
import type { ClusterMember } from './cluster.js';

/** A route of its own file: true when it answered the request. */
export type Route = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

export interface HttpDeps {
  config: AgentConfig;
  store: Store;
  manager: LabManager;
  token: string;
  metrics: Metrics | null;
  sessions: Sessions;
  web: WebHandler | null;
  hostAllowed: HostCheck;
  embeds: EmbedSessions;
  routes: Route[];
  member: ClusterMember;
}

export function httpHandler({ config, store, manager, token, metrics, sessions, web, hostAllowed, embeds, routes, member }: HttpDeps) {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!hostAllowed(req.headers.host)) {
      res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
      res.end(misdirectedText(req.headers.host));
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      // Labs work without the store; progress does not: say both, and answer 503 only without labs.
      void store
        .ping()
        .then(
          () => null,
          (err: Error) => err.message,
        )
        .then((storeError) => {
          res.writeHead(manager.spawner.pid ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
          res.end(
            JSON.stringify({
              ok: manager.spawner.pid !== undefined && storeError === null,
              protocol: PROTOCOL_VERSION,
              labs: manager.labs.size,
              maxLabs: config.maxLabs,
              spawner: manager.spawner.pid ?? null,
              cgroups: manager.cgroups.describe(),
              store: storeError === null ? { ok: true, engine: store.engine } : { ok: false, error: storeError },
              // For routers in front of several agents (docs/router.md).
              agent: member.self(),
              capacity: manager.capacity(),
            }),
          );
        });
      return;
    }
    for (const route of routes) if (route(req, res, path ?? '/')) return;
    if (path === '/metrics') {
      // The operator's scraper has the token; nobody else learns how busy the agent is.
      if (!metrics || !tokenMatches(token, bearer(req.headers.authorization))) {
        res.writeHead(metrics ? 401 : 404, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer' });
        res.end(metrics ? 'the agent token is required (Authorization: Bearer ...)\n' : 'metrics are off\n');
        return;
      }
      void metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' });
        res.end(text);
      });
      return;
    }
    if (path === '/api/progress') {
      // This browser's progress (its session cookie), kept by the agent across restarts.
      const sid = wantsEmbed(req) ? embeds.fromRequest(req) : sessions.fromRequest(req);
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(body));
      };
      if (!sid) return reply(200, { tasks: [] });
      void store.progress(sid).then(
        (done) => reply(200, { tasks: done.map((t) => ({ lesson: t.lesson, task: t.task, doneAt: t.doneAt.toISOString() })) }),
        (err: Error) => reply(503, { error: `progress is not available right now: ${err.message}` }),
      );
      return;
    }
    if (path === '/api/session') {
      // A browser's session cookie without loading a page (scripts, tests, embedding portals).
      sessions.ensure(req, res);
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end('{"session":true}');
      return;
    }
    if (web) {
      if (!EMBED_PATH.test(path ?? '')) {
        sessions.ensure(req, res);
        res.setHeader('content-security-policy', frameAncestors([]));
        return void web.handle(req, res);
      }
      // An embed view: framed by its portal's origins only. Without an embedded session it says
      // only "open this lesson from your portal", which any frame may show; with a session the
      // store cannot confirm (a revoked key, the store away), by the agent itself only.
      const sid = embeds.fromRequest(req);
      void (
        sid
          ? embeds.context(sid).then(
              (c) => c?.origins ?? [],
              () => [],
            )
          : Promise.resolve(null)
      ).then((origins) => {
        res.setHeader('content-security-policy', frameAncestors(origins));
        return web.handle(req, res);
      });
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found (the web app is disabled)\n');
  };
}

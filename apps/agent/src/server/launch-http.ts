// The browser's side of a portal launch and of an embedded session:
//   GET /launch/<token>  uses a one-time link: the learner becomes that portal user (the embed
//                        cookie) and is sent to the lesson's embed view; a used, late or unknown
//                        link gets a page that says so (and nothing else happens);
//   GET /api/embed       what the embed view may know of its session (its portal's origins).
// The embed view's own CSP (who may frame it) is set in http.ts from the same context.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Catalogue } from '../lessons/catalogue.js';
import { LAUNCH_PATH, useLaunch } from '../portal/launches.js';
import { keySource } from '../portal/keys.js';
import type { PortalActivity } from '../portal/activity.js';
import type { Store } from '../store/index.js';
import { BASE_CSP, escapeHtml, sendPage } from '../portal/pages.js';
import type { EmbedSessions } from './embed.js';

export interface LaunchDeps {
  store: Store;
  catalogue: Catalogue;
  embeds: EmbedSessions;
  activity: PortalActivity;
  log: (msg: string, extra: Record<string, unknown>) => void;
}

/** A small page of nslab's own: a refused launch link. */
export function notePage(res: ServerResponse, status: number, title: string, lines: string[]) {
  sendPage(
    res,
    status,
    BASE_CSP,
    title,
    `<h1 data-testid="note-title">${escapeHtml(title)}</h1>${lines.map((l) => `<p data-testid="note">${escapeHtml(l)}</p>`).join('')}`,
  );
}

export function launchHandler({ store, catalogue, embeds, activity, log }: LaunchDeps) {
  return (req: IncomingMessage, res: ServerResponse, path: string): boolean => {
    const m = LAUNCH_PATH.exec(path);
    if (m) {
      if (req.method === 'HEAD') {
        // A link checker's look must not use the link up.
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end();
        return true;
      }
      void (async () => {
        const r = await useLaunch(store, m[1]!);
        if (!r.ok) return notePage(res, r.status, 'This lesson link does not work / 此链接无效', [r.why, '请回到你的培训平台重新打开这一课。']);
        const { launch, key } = r;
        if (!catalogue.get(launch.lesson))
          return notePage(res, 404, 'This lesson is gone / 这一课已不存在', [`nslab no longer has the lesson ${launch.lesson}.`]);
        const source = keySource(key.id);
        const location = await embeds.begin(req, res, {
          source,
          user: launch.user,
          lesson: launch.lesson,
          lang: launch.lang,
          returnUrl: launch.returnUrl,
          name: launch.name,
        });
        activity.forget(embeds.sessionFor(source, launch.user));
        res.writeHead(303, { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
        res.end();
      })().catch((err: Error) => {
        log('a launch failed', { error: err.message });
        if (!res.headersSent) notePage(res, 503, 'nslab cannot open the lesson right now / 暂时无法打开', ['Try again in a moment from your training portal.']);
      });
      return true;
    }
    if (path === '/api/embed') {
      const sid = embeds.fromRequest(req);
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify(body));
      };
      if (!sid) {
        reply(401, { error: 'no embedded session: open the lesson from your training portal' });
        return true;
      }
      embeds.context(sid).then(
        (ctx) => (ctx ? reply(200, ctx) : reply(401, { error: 'no embedded session: open the lesson from your training portal' })),
        (err: Error) => reply(503, { error: `the store is unavailable: ${err.message}` }),
      );
      return true;
    }
    return false;
  };
}

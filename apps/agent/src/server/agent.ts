// The agent as a library: one HTTP server on one port with /healthz, the WebSocket API at
// /api/ws, and (optionally) the web app for every other path.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import pino from 'pino';
import { MAX_CLIENT_MESSAGE_BYTES, PROTOCOL_VERSION, WS_PATH } from '@nslab/shared';
import type { AgentConfig } from '../config.js';
import { LabManager } from '../sandbox/labs.js';
import { Catalogue } from '../lessons/catalogue.js';
import { LabWatchers } from '../lessons/watchers.js';
import { Connection, type ConnectionContext, type Principal } from './connection.js';
import { Shares } from './share.js';
import { Presence } from './presence.js';
import { KeyedBuckets } from './rate.js';
import { Metrics } from './metrics.js';
import { Sessions, sameOrigin } from './session.js';
import { bearer, setupToken, tokenMatches } from './auth.js';
import { hostCheck, misdirectedText } from './hosts.js';
import { WEB_DIR } from '../paths.js';

export interface RunningAgent {
  url: string;
  port: number;
  token: string;
  tokenFile: string | null;
  manager: LabManager<Catalogue>;
  watchers: LabWatchers;
  server: Server;
  close(): Promise<void>;
}

export async function startAgent(config: AgentConfig, opts: { quiet?: boolean } = {}): Promise<RunningAgent> {
  const log = pino({ level: opts.quiet ? 'warn' : config.logLevel, base: { svc: 'nslab-agent' } });
  const { token, file: tokenFile } = setupToken(config.stateDir, config.token);
  const catalogue = Catalogue.load(config.contentDir);
  const manager = new LabManager(config, catalogue, (level, msg, extra) => log[level](extra ?? {}, msg));
  await manager.start();
  const watchers = new LabWatchers((id) => catalogue.get(id)?.tasks);
  manager.on('closed', (lab) => watchers.forget(lab.id));

  let web: Awaited<ReturnType<typeof import('./web.js').createWebHandler>> | null = null;
  if (config.web) {
    const { createWebHandler } = await import('./web.js');
    web = await createWebHandler({ dir: WEB_DIR, dev: config.dev, hostname: config.host, port: config.port, quiet: true });
  }

  const sessions = new Sessions();
  const presence = new Presence(manager, config.graceMs, (msg, extra) => log.info(extra, msg));
  const metrics = config.metrics ? new Metrics(manager, () => presence.waiting) : null;
  // Wrong tokens per address: a guesser is refused for a while (each guess costs a connection).
  const authFailures = new KeyedBuckets(20, 1 / 3);
  const ctx: ConnectionContext = {
    authFailures,
    manager,
    watchers,
    token,
    shares: new Shares(),
    presence,
    rates: config.rates,
    opensPerSession: new KeyedBuckets(config.rates.opens.burst, config.rates.opens.perMinute / 60),
    opensPerAddress: new KeyedBuckets(config.rates.opensPerAddress.burst, config.rates.opensPerAddress.perMinute / 60),
    log: (level, msg, extra) => log[level](extra ?? {}, msg),
    metrics,
  };
  // Pages of these origins may open a WebSocket: the agent's own, and those configured.
  const originAllowed = (req: IncomingMessage) => sameOrigin(req) || config.allowedOrigins.includes(req.headers.origin ?? '');
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE_BYTES });
  // Before anything else, every request and upgrade: a Host the agent does not know gets nothing.
  const hostAllowed = hostCheck(config.allowedHosts, config.host);
  const server = createServer((req, res) => {
    if (!hostAllowed(req.headers.host)) {
      res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
      res.end(misdirectedText(req.headers.host));
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(
        JSON.stringify({
          ok: true,
          protocol: PROTOCOL_VERSION,
          labs: manager.labs.size,
          maxLabs: config.maxLabs,
          spawner: manager.spawner.pid ?? null,
          cgroups: manager.cgroups.describe(),
        }),
      );
      return;
    }
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
    if (path === '/api/session') {
      // A browser's session cookie without loading a page (scripts, tests, embedding portals).
      sessions.ensure(req, res);
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end('{"session":true}');
      return;
    }
    if (web) {
      sessions.ensure(req, res);
      return void web.handle(req, res);
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found (the web app is disabled)\n');
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!hostAllowed(req.headers.host)) {
      const body = misdirectedText(req.headers.host);
      socket.write(`HTTP/1.1 421 Misdirected Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
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
    const address = req.socket.remoteAddress ?? 'unknown';
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
    if (!principal) {
      const sid = sessions.fromRequest(req);
      if (sid) {
        // A session cookie counts only from a page of an allowed origin (no cross-site WebSocket).
        if (!originAllowed(req)) return refuse('403 Forbidden', 'cross-origin WebSocket refused');
        principal = { kind: 'session', sid };
      }
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      new Connection(ws, ctx, principal, address, requestedVersion);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url, tokenFile: tokenFile ?? '(NSLAB_TOKEN)' }, 'nslab agent listening');

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    token,
    tokenFile,
    manager,
    watchers,
    server,
    close() {
      closing ??= (async () => {
        presence.stop();
        // Labs are told first (in their panes and to their clients), then closed.
        const labs = manager.list();
        if (labs.length && config.shutdownNoticeMs > 0) {
          for (const lab of labs) {
            lab.notice(`nslab is stopping: this lab closes in ${Math.ceil(config.shutdownNoticeMs / 1000)} s.`);
            manager.emit('closing', lab, 'the agent is stopping', config.shutdownNoticeMs);
          }
          await new Promise((r) => setTimeout(r, config.shutdownNoticeMs));
        }
        for (const ws of wss.clients) ws.close(1001, 'the agent is stopping');
        await manager.stop();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        await web?.close();
      })();
      return closing;
    },
  };
}

// The router: a stateless front door for several agents (docs/router.md). It answers /healthz
// itself; every other request and WebSocket goes to an agent: the one whose tag a (verified) lab
// id names, a new lab's by two random choices, anything else to any healthy agent.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import pino from 'pino';
import { WS_PATH } from '@nslab/shared';
import type { RouterConfig } from './config.js';
import type { Discovery } from './discovery/source.js';
import { staticDiscovery } from './discovery/static.js';
import { dnsDiscovery } from './discovery/dns.js';
import { endpointSliceDiscovery } from './discovery/endpointslices.js';
import { Fleet, type AgentState } from './health.js';
import { anyHealthy, place, type Random } from './placement.js';
import { httpTarget, wsTarget } from './routes.js';
import { AgentProxy } from './proxy.js';
import { CLOSE, Refuser } from './refuse.js';

export interface RunningRouter {
  url: string;
  port: number;
  fleet: Fleet;
  server: Server;
  /** Stop taking connections, tell open WebSockets to reconnect, and close. */
  close(): Promise<void>;
}

export interface RouterOptions {
  /** The random source of placement (tests fix it). */
  random?: Random;
  /** Logs off (tests). */
  quiet?: boolean;
}

export function discoveryFor(config: RouterConfig): Discovery {
  const a = config.agents;
  if (a.kind === 'static') return staticDiscovery(a.urls);
  if (a.kind === 'dns') return dnsDiscovery(a.name, a.port);
  return endpointSliceDiscovery(a);
}

/** What /healthz says of one agent. */
function describe(a: AgentState) {
  return {
    id: a.self?.id ?? null,
    tag: a.self?.tag ?? null,
    url: a.url,
    healthy: a.healthy,
    draining: a.self?.draining ?? false,
    free: a.capacity?.free ?? 0,
    open: a.capacity?.open ?? 0,
    version: a.self?.version ?? null,
    lastSeen: a.lastSeen?.toISOString() ?? null,
    ...(a.problem ? { problem: a.problem } : {}),
  };
}

function reply(res: ServerResponse, status: number, error: string, message: string) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ error, message }));
}

export async function startRouter(config: RouterConfig, opts: RouterOptions = {}): Promise<RunningRouter> {
  // Logs go to stderr: stdout carries only the line that says where the router listens.
  const logger = pino({ level: opts.quiet ? 'silent' : config.logLevel, base: { role: 'router' } }, pino.destination(2));
  const log = (level: 'info' | 'warn', msg: string, extra: Record<string, unknown> = {}) => logger[level](extra, msg);
  const random = opts.random ?? Math.random;
  const fleet = new Fleet(discoveryFor(config), { intervalMs: config.healthIntervalMs, timeoutMs: config.healthTimeoutMs, log });
  const refuser = new Refuser();
  const proxy = new AgentProxy(refuser, (agent, why) => fleet.markDown(agent.url, why), log);

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      const agents = fleet.list();
      const ok = agents.some((a) => a.healthy);
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ ok, role: 'router', version: config.version, agents: agents.map(describe) }));
      return;
    }
    const target = httpTarget(config.key, req.url ?? '/');
    if (target.kind === 'forged') return reply(res, 403, 'altered', CLOSE.altered.reason);
    if (target.kind === 'lab') {
      const agent = fleet.byTag(target.tag);
      if (!agent?.healthy) return reply(res, 410, 'gone', CLOSE.gone.reason);
      return proxy.web(req, res, agent);
    }
    const agent = anyHealthy(fleet.list(), random);
    if (!agent) return reply(res, 503, 'unavailable', 'no nslab machine is reachable right now; try again in a minute');
    proxy.web(req, res, agent);
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const path = (req.url ?? '/').split('?')[0];
    if (path !== WS_PATH) {
      // Not the API (the web app's development server, say): any agent serves it.
      const agent = anyHealthy(fleet.list(), random);
      if (!agent) return void socket.destroy();
      return proxy.ws(req, socket, head, agent, false);
    }
    const target = wsTarget(config.key, req.url ?? '/');
    if (target.kind === 'forged') return refuser.refuse(req, socket, head, CLOSE.altered);
    if (target.kind === 'lab') {
      const agent = fleet.byTag(target.tag);
      if (!agent?.healthy) return refuser.refuse(req, socket, head, CLOSE.gone);
      return proxy.ws(req, socket, head, agent, true);
    }
    const agent = place(fleet.list(), config.version, random);
    if (!agent) return refuser.refuse(req, socket, head, CLOSE.noRoom);
    // Until its next health answer, count the room this page may take: a burst of new pages
    // between two rounds spreads instead of all going where the last round saw the most room.
    agent.placed = (agent.placed ?? 0) + 1;
    proxy.ws(req, socket, head, agent, false);
  };

  await fleet.start();
  const server = createServer(onRequest);
  server.on('upgrade', onUpgrade);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log('info', 'router listening', { url, agents: fleet.list().map(describe), version: config.version });

  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    fleet,
    server,
    close() {
      closing ??= (async () => {
        fleet.stop();
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        proxy.closeAll();
        refuser.close();
        // Requests under way get a moment to finish; then whatever is left goes.
        const late = setTimeout(() => {
          server.closeAllConnections();
          proxy.destroyAll();
        }, 2000);
        await closed;
        clearTimeout(late);
        logger.flush();
      })();
      return closing;
    },
  };
}

// The agent as a library: one HTTP server on one port with /healthz, the WebSocket API at
// /api/ws, and (optionally) the web app for every other path.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import pino from 'pino';
import { MAX_CLIENT_MESSAGE_BYTES, PROTOCOL_VERSION, WS_PATH } from '@nslab/shared';
import type { AgentConfig } from '../config.js';
import { LabManager } from '../sandbox/labs.js';
import { Connection } from './connection.js';
import { bearer, setupToken, tokenMatches } from './auth.js';
import { WEB_DIR } from '../paths.js';

export interface RunningAgent {
  url: string;
  port: number;
  token: string;
  tokenFile: string | null;
  manager: LabManager;
  server: Server;
  close(): Promise<void>;
}

export async function startAgent(config: AgentConfig, opts: { quiet?: boolean } = {}): Promise<RunningAgent> {
  const log = pino({ level: opts.quiet ? 'warn' : config.logLevel, base: { svc: 'nslab-agent' } });
  const { token, file: tokenFile } = setupToken(config.stateDir, config.token);
  const manager = new LabManager(config, (level, msg, extra) => log[level](extra ?? {}, msg));
  await manager.start();

  let web: Awaited<ReturnType<typeof import('./web.js').createWebHandler>> | null = null;
  if (config.web) {
    const { createWebHandler } = await import('./web.js');
    web = await createWebHandler({ dir: WEB_DIR, dev: config.dev, hostname: config.host, port: config.port, quiet: true });
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE_BYTES });
  const server = createServer((req, res) => {
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
    if (web) return void web.handle(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found (the web app is disabled)\n');
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== WS_PATH) {
      if (web) return web.handleUpgrade(req, socket, head);
      socket.destroy();
      return;
    }
    const given = bearer(req.headers.authorization);
    if (given !== null && !tokenMatches(token, given)) {
      socket.write('HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nwrong token\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      new Connection(ws, manager, token, given !== null, (level, msg, extra) => log[level](extra ?? {}, msg));
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
    server,
    close() {
      closing ??= (async () => {
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

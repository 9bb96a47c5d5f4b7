// Serves the Next.js front end (apps/web) from the agent's own HTTP server, on the agent's port.
//
// The agent owns the http.Server: it handles its own routes and WebSocket path, then hands every other
// request to `handle` and every other upgrade to `handleUpgrade`. Next is loaded only when this is
// called, so the agent's other entry points (CLI, bench) never load it; bundle with `next` external.
import { existsSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';

export interface WebHandlerOptions {
  /** The Next.js app directory (apps/web). */
  dir: string;
  /** true: compile on demand with hot reload (`next dev`); false: serve the output of `next build`. */
  dev: boolean;
  /** The host and port the agent listens on; Next uses them only to build absolute URLs. */
  hostname?: string;
  port?: number;
  /** Fewer logs from Next (its dev compile messages). */
  quiet?: boolean;
  /** Called with errors thrown while Next handles a request or an upgrade; defaults to console.error. */
  onError?: (err: unknown) => void;
}

export interface WebHandler {
  /** Serves one HTTP request with Next. Never rejects: a failure becomes a 500. */
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** Offers a WebSocket upgrade to Next (in dev, its hot-reload socket); answers 404 if Next leaves it. */
  handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Shuts Next down (in dev, its compiler and file watchers). Safe to call more than once. */
  close: () => Promise<void>;
}

type UpgradeFn = (req: IncomingMessage, socket: Duplex, head: Buffer) => unknown;

/** The part of Next's custom-server API (`import next from 'next'`) used here. */
interface NextApp {
  prepare(): Promise<void>;
  getRequestHandler(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  close(): Promise<void>;
}

type CreateNext = (options: {
  dev: boolean;
  dir: string;
  customServer: boolean;
  quiet?: boolean;
  hostname?: string;
  port?: number;
  httpServer?: unknown;
}) => NextApp;

/** How long an upgrade Next did not answer stays open before it gets a 404 (a rewrite may proxy it). */
const UNCLAIMED_UPGRADE_MS = 3000;

/**
 * In the esbuild CommonJS bundle `require` exists, and `require('next')` resolves from the bundle's
 * location like any dependency (NODE_PATH included). From source (ESM under tsx) there is no
 * `require`, so import it. `require('next')` is the factory itself; an import gives `{ default }`.
 */
async function loadNext(): Promise<CreateNext> {
  const mod: unknown = typeof require === 'function' ? require('next') : await import('next');
  let candidate: unknown = mod;
  for (let i = 0; i < 3 && typeof candidate !== 'function'; i++) {
    candidate = candidate && typeof candidate === 'object' ? (candidate as { default?: unknown }).default : undefined;
  }
  if (typeof candidate !== 'function') throw new Error('the "next" package did not export its server factory');
  return candidate as CreateNext;
}

/** Whether anything has answered or closed this socket. */
function claimed(socket: Duplex): boolean {
  const written = (socket as Duplex & { bytesWritten?: number }).bytesWritten ?? 0;
  return socket.destroyed || socket.writableEnded || written > 0;
}

function refuse(socket: Duplex, status: 404 | 500 | 503): void {
  if (claimed(socket)) return;
  const reason = status === 404 ? 'Not Found' : status === 500 ? 'Internal Server Error' : 'Service Unavailable';
  socket.once('error', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

export async function createWebHandler(opts: WebHandlerOptions): Promise<WebHandler> {
  const dir = resolve(opts.dir);
  const dev = opts.dev;
  const onError = opts.onError ?? ((err: unknown) => console.error('[nslab web]', err));

  if (!existsSync(join(dir, 'app')) && !existsSync(join(dir, 'src', 'app'))) {
    throw new Error(`no Next.js app in ${dir} (expected an app/ directory)`);
  }
  if (!dev && !existsSync(join(dir, '.next', 'BUILD_ID'))) {
    throw new Error(
      `the web front end has not been built: ${join(dir, '.next', 'BUILD_ID')} is missing. ` +
        'Run `npm run build` (at the repository root) first, or start the agent in dev mode.',
    );
  }
  // A self-hosted tool on a machine that may be offline: never phone home.
  process.env.NEXT_TELEMETRY_DISABLED ??= '1';

  const createNext = await loadNext();

  // Next's request handler attaches its own 'upgrade' listener to `req.socket.server` on the first
  // request unless given `httpServer`. That would put Next on the agent's server next to the agent's
  // own WebSocket endpoint, so give it this stand-in instead and route upgrades explicitly below.
  const upgradeSink = new EventEmitter();
  const app = createNext({
    dev,
    dir,
    customServer: true,
    quiet: opts.quiet,
    hostname: opts.hostname,
    port: opts.port,
    httpServer: upgradeSink,
  });
  await app.prepare();
  const requestHandler = app.getRequestHandler();

  // The router-level upgrade handler (dev hot reload, rewrites): Next's public getUpgradeHandler()
  // returns the inner server's, which does nothing. It is reachable as the wrapper's `upgradeHandler`
  // once prepared, or as the listener Next puts on `httpServer` after the first request.
  const nextUpgrade = (): UpgradeFn | undefined => {
    try {
      const fn = (app as unknown as { upgradeHandler?: unknown }).upgradeHandler;
      if (typeof fn === 'function') return fn as UpgradeFn;
    } catch {
      // Not prepared, or the private accessor went away in a later Next: fall through.
    }
    const listener = upgradeSink.listeners('upgrade')[0];
    return typeof listener === 'function' ? (listener as UpgradeFn) : undefined;
  };

  let closing: Promise<void> | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (closing) {
      res.statusCode = 503;
      res.setHeader('Connection', 'close');
      res.end('Service Unavailable');
      return;
    }
    try {
      await requestHandler(req, res);
    } catch (err) {
      onError(err);
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end('Internal Server Error');
      } else {
        res.destroy();
      }
    }
  };

  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const upgrade = closing ? undefined : nextUpgrade();
    if (!upgrade) {
      refuse(socket, closing ? 503 : 404);
      return;
    }
    socket.on('error', () => {}); // A client that goes away mid-handshake must not crash the agent.
    Promise.resolve()
      .then(() => upgrade(req, socket, head))
      .then(
        () => {
          if (claimed(socket)) return;
          const timer = setTimeout(() => refuse(socket, 404), UNCLAIMED_UPGRADE_MS);
          timer.unref();
          socket.once('close', () => clearTimeout(timer));
        },
        (err: unknown) => {
          onError(err);
          refuse(socket, 500);
        },
      );
  };

  const close = (): Promise<void> => {
    closing ??= app.close().catch((err: unknown) => onError(err));
    return closing;
  };

  return { handle, handleUpgrade, close };
}

// The embed script a portal's page loads from the agent, /embed/v1.js (apps/agent/embed/v1.js,
// plain JavaScript, no build step; docs/embedding.md): NSLab.mount puts a launch in a frame and
// relays its events. A version is a path of its own, so a page that names v1 keeps v1's surface;
// its text may still be fixed, hence a short cache and an ETag. Any site may load it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { REPO_ROOT } from '../paths.js';

const SCRIPTS: Record<string, string> = { '/embed/v1.js': 'v1.js' };
const SCRIPT_DIR = join(REPO_ROOT, 'apps', 'agent', 'embed');

/** Read once per process; null when the file is missing (a broken install). */
const loaded = new Map<string, { body: Buffer; etag: string } | null>();

function script(name: string): { body: Buffer; etag: string } | null {
  if (!loaded.has(name)) {
    try {
      const body = readFileSync(join(SCRIPT_DIR, name));
      loaded.set(name, { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    } catch {
      loaded.set(name, null);
    }
  }
  return loaded.get(name) ?? null;
}

/** Answers GET and HEAD of the embed script; false for any other path. */
export function serveEmbedScript(req: IncomingMessage, res: ServerResponse, path: string): boolean {
  const name = SCRIPTS[path];
  if (!name) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end('the embed script is only read (GET)\n');
    return true;
  }
  const s = script(name);
  if (!s) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`the embed script is missing from this install (apps/agent/embed/${name})\n`);
    return true;
  }
  const headers = {
    'content-type': 'application/javascript; charset=utf-8',
    'cache-control': 'public, max-age=300',
    'access-control-allow-origin': '*',
    'cross-origin-resource-policy': 'cross-origin',
    'x-content-type-options': 'nosniff',
    etag: s.etag,
  };
  const match = (req.headers['if-none-match'] ?? '').split(',').some((t) => t.trim().replace(/^W\//, '') === s.etag);
  if (match) {
    res.writeHead(304, headers);
    res.end();
    return true;
  }
  res.writeHead(200, { ...headers, 'content-length': String(s.body.length) });
  res.end(req.method === 'HEAD' ? undefined : s.body);
  return true;
}

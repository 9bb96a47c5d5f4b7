// HTTP for recordings: a recording by its signed link (/api/casts/<workshop>/<seat>/<file>,
// see recordings.ts), and the asciinema player that replays it, served by the agent itself from
// its npm package (/player/asciinema-player.min.js and .css): no CDN, nothing fetched from
// elsewhere.
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { REPO_ROOT } from '../paths.js';
import type { Recordings } from './recordings.js';

const PLAYER_DIR = join(REPO_ROOT, 'node_modules', 'asciinema-player', 'dist', 'bundle');
const PLAYER_FILES: Record<string, string> = {
  '/player/asciinema-player.min.js': 'text/javascript; charset=utf-8',
  '/player/asciinema-player.css': 'text/css; charset=utf-8',
};

function fail(res: ServerResponse, status: number, text: string) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${text}\n`);
}

function send(res: ServerResponse, file: string, headers: Record<string, string>) {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return fail(res, 404, 'no such recording (it was removed after the retention, or never made)');
  }
  res.writeHead(200, { ...headers, 'content-length': String(size), 'x-content-type-options': 'nosniff' });
  createReadStream(file)
    .on('error', () => res.destroy())
    .pipe(res);
}

/** Answers the request if it is one of these paths; false otherwise. */
export function serveRecordings(req: IncomingMessage, res: ServerResponse, path: string, recordings: Recordings): boolean {
  if (path in PLAYER_FILES) {
    send(res, join(PLAYER_DIR, path.slice('/player/'.length)), { 'content-type': PLAYER_FILES[path]!, 'cache-control': 'public, max-age=3600' });
    return true;
  }
  if (!path.startsWith('/api/casts/')) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    fail(res, 405, 'recordings are only read');
    return true;
  }
  const query = new URL(req.url ?? '/', 'http://x').searchParams;
  const file = recordings.resolve(path, query);
  if (!file) {
    fail(res, 403, 'this recording link is not valid: it expired (links last an hour; ask the dashboard for a new one) or was never made here');
    return true;
  }
  const name = path.split('/').pop()!;
  // A lab that just closed is still writing its files' ends: served whole, once written.
  void recordings.settled(file).then(() =>
    send(res, file, {
      'content-type': 'application/x-asciicast; charset=utf-8',
      'cache-control': 'no-store',
      ...(query.get('download') ? { 'content-disposition': `attachment; filename="${name}"` } : {}),
    }),
  );
  return true;
}

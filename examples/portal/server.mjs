// A tiny training portal that embeds nslab (README.md beside it, docs/embedding.md). Node 20 or
// later, no dependencies:
//
//   NSLAB_URL=http://127.0.0.1:3000 NSLAB_API_KEY=nsk_... PORT=8080 node server.mjs
//
// GET /        the portal's page (index.html, told where the agent is)
// POST /launch asks the agent for a one-time launch link for this portal's learner, with the
//              API key, which never leaves this server; the page puts the link in a frame.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const AGENT = (process.env.NSLAB_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
const KEY = process.env.NSLAB_API_KEY ?? '';
const PORT = Number(process.env.PORT ?? 8080);
const HOST = process.env.HOST ?? '127.0.0.1';
if (!KEY) {
  console.error(`set NSLAB_API_KEY to a key made with: nslab keys create --name demo --origins http://localhost:${PORT}`);
  process.exit(1);
}

const attr = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = readFileSync(new URL('./index.html', import.meta.url), 'utf8').replaceAll('{{NSLAB_URL}}', attr(AGENT));

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
const json = (res, status, body) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));

async function readJson(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 4096) throw new Error('too large');
  }
  return JSON.parse(text || '{}');
}

createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://portal').pathname;
  if (req.method === 'GET' && (path === '/' || path === '/index.html')) return send(res, 200, 'text/html; charset=utf-8', page);
  if (req.method === 'POST' && path === '/launch') {
    // JSON only: a form on another site cannot post here.
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return json(res, 415, { error: 'send JSON' });
    let body;
    try {
      body = await readJson(req);
    } catch {
      return json(res, 400, { error: 'a small JSON body: {lesson, user, lang}' });
    }
    // A real portal takes the learner from its own sign-in, never from the browser. This demo
    // lets you pick one, to try several learners.
    const user = typeof body.user === 'string' && body.user.trim() ? body.user.trim() : 'demo-learner';
    const launch = {
      lesson: typeof body.lesson === 'string' ? body.lesson : 'uts',
      user,
      name: user.slice(0, 80),
      lang: body.lang === 'zh' ? 'zh' : 'en',
      returnUrl: `http://${req.headers.host}/`,
    };
    try {
      const r = await fetch(`${AGENT}/api/v1/launches`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(launch),
      });
      const answer = await r.json().catch(() => ({}));
      if (r.status !== 201) return json(res, 502, { error: answer.detail ?? `nslab answered ${r.status}` });
      return json(res, 200, { url: answer.url, expiresAt: answer.expiresAt });
    } catch (err) {
      return json(res, 502, { error: `nslab is unreachable at ${AGENT}: ${err.message}` });
    }
  }
  send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
}).listen(PORT, HOST, () => console.log(`portal: http://localhost:${PORT}/ (nslab at ${AGENT})`));

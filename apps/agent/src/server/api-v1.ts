// The REST API v1 for training portals' servers (docs/portals.md): JSON under /api/v1, a key
// as `Authorization: Bearer`, errors as RFC 9457 problem details with a stable type each, a
// rate per key answered with 429 and Retry-After. A key reaches only its own learners' labs and
// progress: every lab is looked up through its owner's portal user. The request and answer
// shapes are zod schemas (portal/api-schemas.ts), also the source of /api/v1/openapi.json.
import type { AddressOf } from './address.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { describeZodError } from '@nslab/shared';
import type { Catalogue } from '../lessons/catalogue.js';
import type { LabManager } from '../sandbox/labs.js';
import type { Lab } from '../sandbox/lab.js';
import { StoreError, type ApiKeyRow, type Store } from '../store/index.js';
import { LaunchRequest, PROBLEMS, problemType, type ProblemName } from '../portal/api-schemas.js';
import { openApiDocument } from '../portal/openapi.js';
import { keyFor, keySource } from '../portal/keys.js';
import { createLaunch } from '../portal/launches.js';
import type { PortalActivity } from '../portal/activity.js';
import { bearer } from './auth.js';
import { BodyTooLarge, readBody } from './body.js';
import type { KeyedBuckets } from './rate.js';
import { EXTEND_MS } from './workshop-labs.js';
import { remoteLabs } from './session-labs.js';

export interface ApiDeps {
  store: Store;
  manager: LabManager<Catalogue>;
  activity: PortalActivity;
  /** The session of a portal's learner (embed.ts). */
  sessionFor: (source: string, user: string) => string;
  /** Requests per key. */
  perKey: KeyedBuckets;
  /** Wrong keys per client address. */
  authFailures: KeyedBuckets;
  /** The agent's public URL for links (launches), or null: from the request's Host. */
  publicUrl: string | null;
  /** This agent's id when it shares its store with other agents (their labs are listed too), else null. */
  sharedAgentId: string | null;
  /** Where a request comes from (address.ts). */
  addressOf: AddressOf;
  log: (msg: string, extra: Record<string, unknown>) => void;
}

/** The largest request body the API reads. */
const MAX_BODY = 16 * 1024;

class Problem extends Error {
  constructor(
    readonly name: ProblemName,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

function problem(res: ServerResponse, p: Problem) {
  const { status, title } = PROBLEMS[p.name];
  res.writeHead(status, { 'content-type': 'application/problem+json; charset=utf-8', 'cache-control': 'no-store', ...p.headers });
  res.end(JSON.stringify({ type: problemType(p.name), title, status, detail: p.detail, ...p.extra }));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json')
    throw new Problem('unsupported-media-type', `send the body as application/json (got ${type ? `'${type.slice(0, 60)}'` : 'no content type'})`);
  let body: Buffer;
  try {
    body = await readBody(req, MAX_BODY);
  } catch (err) {
    if (err instanceof BodyTooLarge) throw new Problem('payload-too-large', `at most ${MAX_BODY} bytes`);
    throw err;
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new Problem('bad-json', 'the body is not valid JSON');
  }
}

function invalid(err: z.ZodError): Problem {
  return new Problem('invalid-request', describeZodError(err), {
    errors: err.issues.slice(0, 20).map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })),
  });
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function apiV1({ store, manager, activity, sessionFor, perKey, authFailures, publicUrl, sharedAgentId, addressOf, log }: ApiDeps) {
  const catalogue = manager.catalogue;

  /** One lab as the API lists it. */
  interface Listed {
    id: string;
    user: string;
    lesson: string;
    createdAt: string;
    closesAt: string | null;
    panes: Array<{ name: string; running: boolean }>;
  }

  /** The open labs of this key's learners: this agent's, and with a shared store every other agent's. */
  async function labsOf(key: ApiKeyRow): Promise<Listed[]> {
    const source = keySource(key.id);
    const out: Listed[] = [];
    for (const lab of manager.list()) {
      if (!lab.owner || lab.state !== 'open') continue;
      const u = await activity.userOf(lab.owner);
      if (u && u.source === source)
        out.push({
          id: lab.id,
          user: u.user,
          lesson: lab.lesson?.id ?? '',
          createdAt: lab.createdAt.toISOString(),
          closesAt: iso(manager.closesAt(lab)),
          panes: lab.info().panes.map((p) => ({ name: p.name, running: p.running })),
        });
    }
    if (sharedAgentId === null) return out;
    // Other agents' labs as they last wrote them (within a minute); a lab that closed since is
    // gone from the list at the latest when its row is no longer fresh.
    for (const row of await remoteLabs(store, sharedAgentId)) {
      const u = await activity.userOf(row.session);
      if (u && u.source === source)
        out.push({
          id: row.lab,
          user: u.user,
          lesson: row.lesson,
          createdAt: new Date(row.createdAt).toISOString(),
          closesAt: row.closesAt === null ? null : new Date(row.closesAt).toISOString(),
          panes: row.panes,
        });
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async function labOf(key: ApiKeyRow, id: string): Promise<Lab> {
    const lab = id.length <= 64 ? manager.get(id) : undefined;
    const u = lab?.owner ? await activity.userOf(lab.owner) : null;
    // Another key's lab, or a tutorial's, is no different from a lab that does not exist.
    if (lab?.state !== 'open' || !u || u.source !== keySource(key.id)) throw new Problem('unknown-lab', `no open lab ${id.slice(0, 64)} for this key`);
    return lab;
  }

  function baseUrl(req: IncomingMessage): string {
    if (publicUrl) return publicUrl.replace(/\/+$/, '');
    const proto = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
    return `${proto}://${req.headers.host}`;
  }

  async function route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    const allow = (methods: string[]) => {
      if (!methods.includes(method)) throw new Problem('method-not-allowed', `${path} takes ${methods.join(', ')}`, {}, { allow: methods.join(', ') });
    };
    if (path === '/api/v1/openapi.json') {
      allow(['GET', 'HEAD']);
      return send(res, 200, openApiDocument(), { 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' });
    }
    const pm = /^\/api\/v1\/problems\/([a-z-]{1,40})$/.exec(path);
    if (pm && pm[1]! in PROBLEMS) {
      const p = PROBLEMS[pm[1] as ProblemName];
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${p.status} ${p.title}\nSee docs/portals.md for what to do about it.\n`);
      return;
    }

    // Everything else needs a key.
    const address = addressOf(req);
    const found = await keyFor(store, bearer(req.headers.authorization));
    if (!found.ok) {
      if (found.why !== 'missing' && !authFailures.take(address).ok)
        throw new Problem('rate-limited', 'too many wrong keys from this address; wait a minute', {}, { 'retry-after': '60' });
      if (found.why === 'revoked')
        throw new Problem('key-revoked', 'this key was revoked; ask the nslab operator for a new one', {}, { 'www-authenticate': 'Bearer' });
      throw new Problem(
        'unauthorized',
        found.why === 'missing' ? 'send Authorization: Bearer <key> (nslab keys create)' : 'this is not a key this agent knows',
        {},
        { 'www-authenticate': 'Bearer' },
      );
    }
    const key = found.key;
    const rate = perKey.take(key.id);
    if (!rate.ok)
      throw new Problem(
        'rate-limited',
        `too many requests for this key; retry in ${rate.retryInS} s`,
        {},
        { 'retry-after': String(Math.max(1, rate.retryInS)) },
      );

    if (path === '/api/v1/launches') {
      allow(['POST']);
      const body = LaunchRequest.safeParse(await readJson(req));
      if (!body.success) throw invalid(body.error);
      if (!catalogue.get(body.data.lesson)) throw new Problem('unknown-lesson', `no lesson '${body.data.lesson}'; these exist: ${catalogue.ids().join(', ')}`);
      const l = await createLaunch(store, key, body.data, baseUrl(req));
      return send(res, 201, { url: l.url, expiresAt: l.expiresAt.toISOString() });
    }
    const um = /^\/api\/v1\/users\/([^/]+)\/progress$/.exec(path);
    if (um) {
      allow(['GET']);
      let user: string;
      try {
        user = decodeURIComponent(um[1]!);
      } catch {
        throw new Problem('invalid-request', 'the user id in the path is not valid percent-encoding');
      }
      if (user.length > 256 || /[\p{Cc}\p{Cs}]/u.test(user))
        throw new Problem('invalid-request', 'a user id has at most 256 characters and no control characters');
      return send(res, 200, await progressOf(key, user));
    }
    if (path === '/api/v1/labs') {
      allow(['GET']);
      return send(res, 200, { labs: await labsOf(key) });
    }
    const em = /^\/api\/v1\/labs\/([^/]+)\/extend$/.exec(path);
    if (em) {
      allow(['POST']);
      const lab = await labOf(key, em[1]!);
      lab.extend(EXTEND_MS);
      return send(res, 200, { id: lab.id, closesAt: iso(manager.closesAt(lab)) });
    }
    const dm = /^\/api\/v1\/labs\/([^/]+)$/.exec(path);
    if (dm) {
      allow(['DELETE']);
      const lab = await labOf(key, dm[1]!);
      await manager.close(lab.id, 'closed by the training portal');
      return send(res, 200, { id: lab.id, closed: true });
    }
    throw new Problem('not-found', `no endpoint ${path.slice(0, 100)}; see /api/v1/openapi.json`);
  }

  async function progressOf(key: ApiKeyRow, user: string) {
    const sid = sessionFor(keySource(key.id), user);
    const done = await store.progress(sid);
    const byLesson = new Map<string, Array<{ task: string; doneAt: Date }>>();
    for (const t of done) {
      let list = byLesson.get(t.lesson);
      if (!list) byLesson.set(t.lesson, (list = []));
      list.push({ task: t.task, doneAt: t.doneAt });
    }
    return {
      user,
      lessons: [...byLesson].map(([lesson, tasks]) => {
        const entry = catalogue.get(lesson);
        const all = entry?.tasks.map((t) => t.id) ?? [];
        const mine = new Set(tasks.map((t) => t.task));
        const complete = all.length > 0 && all.every((t) => mine.has(t));
        return {
          lesson,
          title: entry?.titles.en ?? lesson,
          tasksDone: all.length ? all.filter((t) => mine.has(t)).length : tasks.length,
          tasksTotal: all.length,
          completedAt: complete ? new Date(Math.max(...tasks.filter((t) => all.includes(t.task)).map((t) => t.doneAt.getTime()))).toISOString() : null,
          tasks: tasks.map((t) => ({ task: t.task, doneAt: t.doneAt.toISOString() })),
        };
      }),
    };
  }

  /** Answers /api/v1/... requests; false for any other path. */
  return (req: IncomingMessage, res: ServerResponse, path: string): boolean => {
    if (path !== '/api/v1' && !path.startsWith('/api/v1/')) return false;
    route(req, res, path).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof Problem) return problem(res, err);
      if (err instanceof StoreError && (err.code === 'unavailable' || err.code === 'closed'))
        return problem(res, new Problem('unavailable', 'the store is unavailable; try again shortly', {}, { 'retry-after': '5' }));
      log('API request failed', { path, error: (err as Error).message });
      problem(res, new Problem('internal', 'the agent failed to answer; the operator can read why in its log'));
    });
    return true;
  };
}

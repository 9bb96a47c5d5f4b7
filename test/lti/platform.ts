// An LTI 1.3 platform (an LMS, as far as a tool can tell) for the tests, written from the IMS
// specifications with jose: its own RS256 keys and JWKS (which it can rotate), a course page
// framing a launch, the launch starter (third-party initiated login, form-posted to the tool),
// the OIDC authorization endpoint (answering with an auto-submitting form_post of id_token and
// state to the tool's redirect_uri), an OAuth 2 token endpoint that checks the tool's client
// assertion against the tool's /lti/jwks, a line item's score service recording scores, and a
// Deep Linking return endpoint recording (and verifying) the tool's response JWT.
// node:http on 127.0.0.1, on a random port; it answers as `http://localhost:<port>` too, which
// is another site than the agent's 127.0.0.1.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

const LTI = 'https://purl.imsglobal.org/spec/lti/claim/';
const DL = 'https://purl.imsglobal.org/spec/lti-dl/claim/';
export const CLAIMS = {
  messageType: `${LTI}message_type`,
  version: `${LTI}version`,
  deploymentId: `${LTI}deployment_id`,
  targetLinkUri: `${LTI}target_link_uri`,
  resourceLink: `${LTI}resource_link`,
  roles: `${LTI}roles`,
  custom: `${LTI}custom`,
  launchPresentation: `${LTI}launch_presentation`,
  context: `${LTI}context`,
  ags: 'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint',
  dlSettings: `${DL}deep_linking_settings`,
  contentItems: `${DL}content_items`,
  dlData: `${DL}data`,
} as const;
export const SCORE_SCOPE = 'https://purl.imsglobal.org/spec/lti-ags/scope/score';
const LINEITEM_SCOPE = 'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem';
const SCORE_TYPE = 'application/vnd.ims.lis.v1.score+json';

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** What one launch of the platform is: who, what message, which lesson. */
export interface LaunchSpec {
  messageType?: 'LtiResourceLinkRequest' | 'LtiDeepLinkingRequest';
  /** The user's id (sub); default 'learner-1'. */
  sub?: string;
  name?: string;
  /** The custom parameter lesson (null: none). */
  lesson?: string | null;
  locale?: string;
  /** Offer grades on a line item (default true for resource links). */
  grades?: boolean;
  /** Claims put over the ones the platform makes (undefined deletes one). */
  claims?: Record<string, unknown>;
}

export interface RecordedScore {
  lineitem: string;
  contentType: string;
  score: Record<string, unknown>;
}

export interface RecordedDeepLink {
  ok: boolean;
  error?: string;
  header?: Record<string, unknown>;
  claims?: JWTPayload;
}

async function newKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = `k-${randomBytes(6).toString('hex')}`;
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function html(res: ServerResponse, status: number, body: string) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`<!doctype html><html><head><meta charset="utf-8"><title>platform</title></head><body>${body}</body></html>`);
}

function autoPost(res: ServerResponse, action: string, fields: Record<string, string>) {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join('');
  html(res, 200, `<form id="f" method="post" action="${esc(action)}">${inputs}</form><script>document.getElementById('f').submit()</script>`);
}

export class TestPlatform {
  readonly clientId = `nslab-${randomBytes(4).toString('hex')}`;
  readonly deploymentId = 'deployment-1';
  /** The tool's base URL: set once the agent is up. */
  toolUrl = '';
  /** When the tool fetched the platform's JWKS (Date.now() of each). */
  readonly jwksFetches: number[] = [];
  /** Every authentication request the tool sent the browser with. */
  readonly authRequests: URLSearchParams[] = [];
  /** Every token request: whether the client assertion held, and why not. */
  readonly tokenRequests: Array<{ ok: boolean; error?: string; scope?: string }> = [];
  readonly scores: RecordedScore[] = [];
  readonly deepLinks: RecordedDeepLink[] = [];
  /** The next this many score posts are answered 503 (a platform that is down). */
  failScores = 0;

  private keys: SigningKey[] = [];
  private readonly hints = new Map<string, LaunchSpec>();
  private readonly tokens = new Set<string>();
  private readonly assertionIds = new Set<string>();
  private lineitems = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<TestPlatform> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const p = new TestPlatform(server, (server.address() as { port: number }).port);
    p.keys = [await newKey()];
    server.on('request', (req, res) => {
      p.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`platform error: ${err.message}`);
      });
    });
    return p;
  }

  /** The platform's site: localhost, not the agent's 127.0.0.1. */
  get url(): string {
    return `http://localhost:${this.port}`;
  }
  get issuer(): string {
    return this.url;
  }
  /** Its endpoints, as the tool reaches them. */
  get authUrl(): string {
    return `${this.url}/auth`;
  }
  /** Where the tool's server reaches the platform's services (an address, not a name). */
  get serviceUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get tokenUrl(): string {
    return `${this.serviceUrl}/token`;
  }
  get jwksUrl(): string {
    return `${this.serviceUrl}/jwks`;
  }
  get returnUrl(): string {
    return `${this.url}/deep-link-return`;
  }

  /** This platform's registration in nslab's configuration. */
  registration(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      clientId: this.clientId,
      deploymentIds: [this.deploymentId],
      authUrl: this.authUrl,
      tokenUrl: this.tokenUrl,
      jwksUrl: this.jwksUrl,
    };
  }

  /** The key it signs with now. */
  get kid(): string {
    return this.keys[this.keys.length - 1]!.kid;
  }

  /** A new signing key; the JWKS then lists only it (the old key is retired). */
  async rotate(): Promise<void> {
    this.keys = [await newKey()];
  }

  /** A course page framing the launch of `spec` (the LMS's activity page). */
  coursePage(spec: LaunchSpec): string {
    return `${this.url}/course?hint=${this.hintFor(spec)}`;
  }

  /** The launch starter of `spec`: a page that posts the third-party login to the tool. */
  startUrl(spec: LaunchSpec): string {
    return `${this.url}/start?hint=${this.hintFor(spec)}`;
  }

  private hintFor(spec: LaunchSpec): string {
    const hint = randomBytes(8).toString('hex');
    this.hints.set(hint, spec);
    return hint;
  }

  /** What a login to the tool sends: iss, login_hint, target_link_uri, lti_message_hint, client_id, lti_deployment_id. */
  loginParams(hint: string, spec: LaunchSpec): Record<string, string> {
    return {
      iss: this.issuer,
      login_hint: spec.sub ?? 'learner-1',
      target_link_uri: `${this.toolUrl}/lti/launch`,
      lti_message_hint: hint,
      client_id: this.clientId,
      lti_deployment_id: this.deploymentId,
    };
  }

  /** The id_token claims the platform makes for `spec` and the tool's nonce. */
  claimsFor(spec: LaunchSpec, nonce: string, now = Date.now()): JWTPayload {
    const iat = Math.floor(now / 1000);
    const type = spec.messageType ?? 'LtiResourceLinkRequest';
    const c: JWTPayload = {
      iss: this.issuer,
      aud: this.clientId,
      azp: this.clientId,
      sub: spec.sub ?? 'learner-1',
      iat,
      exp: iat + 300,
      nonce,
      name: spec.name ?? 'Ada Learner',
      locale: spec.locale ?? 'en-US',
      [CLAIMS.version]: '1.3.0',
      [CLAIMS.deploymentId]: this.deploymentId,
      [CLAIMS.messageType]: type,
      [CLAIMS.targetLinkUri]: `${this.toolUrl}/lti/launch`,
      [CLAIMS.roles]: ['http://purl.imsglobal.org/vocab/lis/v2/membership#Learner'],
      [CLAIMS.context]: { id: 'course-1', title: 'Namespaces 101' },
      [CLAIMS.launchPresentation]: { document_target: 'iframe', return_url: `${this.url}/course-home`, locale: spec.locale ?? 'en-US' },
    };
    if (type === 'LtiResourceLinkRequest') {
      c[CLAIMS.resourceLink] = { id: 'link-1', title: 'nslab lesson' };
      if (spec.lesson !== null) c[CLAIMS.custom] = { lesson: spec.lesson ?? 'uts' };
      if (spec.grades !== false) {
        const n = ++this.lineitems;
        c[CLAIMS.ags] = {
          scope: [LINEITEM_SCOPE, SCORE_SCOPE],
          lineitems: `${this.serviceUrl}/lineitems?course=1`,
          lineitem: `${this.serviceUrl}/lineitems/${n}?course=1`,
        };
      }
    } else {
      c[CLAIMS.roles] = ['http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor'];
      c[CLAIMS.dlSettings] = {
        deep_link_return_url: this.returnUrl,
        accept_types: ['ltiResourceLink'],
        accept_presentation_document_targets: ['iframe', 'window'],
        accept_multiple: false,
        accept_lineitem: true,
        data: `dl-data-${nonce.slice(0, 8)}`,
        title: 'Add an nslab lesson',
      };
    }
    for (const [k, v] of Object.entries(spec.claims ?? {})) {
      if (v === undefined) delete c[k];
      else c[k] = v;
    }
    return c;
  }

  /**
   * Sign claims as an id_token. `forge`: with a key the platform does not publish, under the
   * platform's current kid (what an attacker without the platform's key can do at best).
   */
  async sign(claims: JWTPayload, opts: { forge?: boolean } = {}): Promise<string> {
    const key = opts.forge ? await newKey() : this.keys[this.keys.length - 1]!;
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: this.kid, typ: 'JWT' }).sign(key.privateKey);
  }

  /** The hint's spec, as the authorization endpoint finds it. */
  spec(hint: string): LaunchSpec | undefined {
    return this.hints.get(hint);
  }

  private toolKeys() {
    return createRemoteJWKSet(new URL(`${this.toolUrl}/lti/jwks`));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    const path = url.pathname;

    if (path === '/jwks') {
      this.jwksFetches.push(Date.now());
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: this.keys.map((k) => k.publicJwk) }));
      return;
    }

    if (path === '/course') {
      const hint = url.searchParams.get('hint') ?? '';
      return html(
        res,
        200,
        `<h1>Namespaces 101</h1><iframe id="tool" src="/start?hint=${esc(hint)}" style="width:1400px;height:900px;border:0" allow="clipboard-read; clipboard-write"></iframe>`,
      );
    }

    if (path === '/start') {
      const hint = url.searchParams.get('hint') ?? '';
      const spec = this.hints.get(hint);
      if (!spec) return html(res, 404, 'no such launch');
      return autoPost(res, `${this.toolUrl}/lti/login`, this.loginParams(hint, spec));
    }

    if (path === '/auth') {
      // The OIDC authentication request (LTI 1.3 core 5.1.1.2): checked as a platform must.
      const q = url.searchParams;
      this.authRequests.push(q);
      const wrong = [
        q.get('scope') !== 'openid' && 'scope',
        q.get('response_type') !== 'id_token' && 'response_type',
        q.get('response_mode') !== 'form_post' && 'response_mode',
        q.get('prompt') !== 'none' && 'prompt',
        q.get('client_id') !== this.clientId && 'client_id',
        q.get('redirect_uri') !== `${this.toolUrl}/lti/launch` && 'redirect_uri',
        !q.get('state') && 'state',
        !q.get('nonce') && 'nonce',
      ].filter(Boolean);
      const hint = q.get('lti_message_hint') ?? '';
      const spec = this.hints.get(hint);
      if (!spec) wrong.push('lti_message_hint');
      else if (q.get('login_hint') !== (spec.sub ?? 'learner-1')) wrong.push('login_hint');
      if (wrong.length || !spec) return html(res, 400, `bad authentication request: ${wrong.join(', ')}`);
      const idToken = await this.sign(this.claimsFor(spec, q.get('nonce')!));
      return autoPost(res, q.get('redirect_uri')!, { id_token: idToken, state: q.get('state')! });
    }

    if (path === '/token' && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      const fail = (error: string) => {
        this.tokenRequests.push({ ok: false, error });
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'invalid_client', error_description: error }));
      };
      if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return fail(`content-type ${req.headers['content-type']}`);
      if (form.get('grant_type') !== 'client_credentials') return fail('grant_type');
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return fail('client_assertion_type');
      const scope = form.get('scope') ?? '';
      if (!scope.split(' ').includes(SCORE_SCOPE)) return fail('scope');
      try {
        const { payload } = await jwtVerify(form.get('client_assertion') ?? '', this.toolKeys(), {
          algorithms: ['RS256'],
          issuer: this.clientId,
          subject: this.clientId,
          audience: this.tokenUrl,
          requiredClaims: ['jti', 'iat', 'exp'],
        });
        if (this.assertionIds.has(payload.jti!)) return fail('a client assertion used twice');
        this.assertionIds.add(payload.jti!);
      } catch (err) {
        return fail(`client assertion: ${(err as Error).message}`);
      }
      const token = `at-${randomBytes(16).toString('hex')}`;
      this.tokens.add(token);
      this.tokenRequests.push({ ok: true, scope });
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 3600, scope }));
      return;
    }

    const scoreOf = /^\/lineitems\/(\d+)\/scores$/.exec(path);
    if (scoreOf && req.method === 'POST') {
      const body = await readBody(req);
      const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      if (!auth || !this.tokens.has(auth[1]!)) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end('{"error":"unknown token"}');
        return;
      }
      if (req.headers['content-type'] !== SCORE_TYPE) {
        res.writeHead(415, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: `a score is ${SCORE_TYPE}` }));
        return;
      }
      if (this.failScores > 0) {
        this.failScores--;
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end('down for maintenance');
        return;
      }
      this.scores.push({
        lineitem: `${this.serviceUrl}/lineitems/${scoreOf[1]}${url.search}`,
        contentType: req.headers['content-type'] ?? '',
        score: JSON.parse(body) as Record<string, unknown>,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
      return;
    }

    if (path === '/deep-link-return' && req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      try {
        const { payload, protectedHeader } = await jwtVerify(form.get('JWT') ?? '', this.toolKeys(), {
          algorithms: ['RS256'],
          issuer: this.clientId,
          audience: this.issuer,
          requiredClaims: ['iat', 'exp', 'nonce'],
        });
        this.deepLinks.push({ ok: true, header: protectedHeader as Record<string, unknown>, claims: payload });
        const items = (payload[CLAIMS.contentItems] as Array<{ title?: string }> | undefined) ?? [];
        return html(res, 200, `<h1 id="added">Added: ${esc(items.map((i) => i.title ?? '').join(', '))}</h1>`);
      } catch (err) {
        this.deepLinks.push({ ok: false, error: (err as Error).message });
        return html(res, 400, `<h1 id="refused">Refused: ${esc((err as Error).message)}</h1>`);
      }
    }

    html(res, 404, 'not found');
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

/** Start a login at the tool over plain HTTP, as the platform's form would: the state and nonce it redirects with. */
export async function loginOverHttp(
  toolUrl: string,
  params: Record<string, string>,
): Promise<{ status: number; location: URL | null; state: string; nonce: string; body: string }> {
  const res = await fetch(`${toolUrl}/lti/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
    redirect: 'manual',
  });
  const body = await res.text();
  const loc = res.headers.get('location');
  const location = loc ? new URL(loc) : null;
  return { status: res.status, location, state: location?.searchParams.get('state') ?? '', nonce: location?.searchParams.get('nonce') ?? '', body };
}

/** Post a launch to the tool, as the platform's form_post would. */
export async function postLaunch(
  toolUrl: string,
  fields: Record<string, string>,
): Promise<{ status: number; location: string | null; cookie: string | null; body: string }> {
  const res = await fetch(`${toolUrl}/lti/launch`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
    redirect: 'manual',
  });
  return { status: res.status, location: res.headers.get('location'), cookie: res.headers.get('set-cookie'), body: await res.text() };
}

/** A page's visible words, tags dropped and entities decoded (enough for nslab's own small pages). */
export function textOf(page: string): string {
  return page
    .replace(/<style[\s\S]*?<\/style>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

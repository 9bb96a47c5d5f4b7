// What the portal tests share: calls of the REST API, each answer checked against the OpenAPI
// document the agent serves (Ajv, JSON Schema 2020-12), and a portal learner's launch as a
// browser makes it (the one-time link, then the embed cookie).
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { TestClient } from '../helpers/ws.ts';

export interface Answer {
  status: number;
  type: string;
  headers: Headers;
  body: any;
}

type Doc = {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
  components: { schemas: Record<string, unknown> };
};

/** Checks answers against the agent's own OpenAPI document. */
export class ApiChecker {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  checked = 0;

  private constructor(readonly doc: Doc) {
    // ajv-formats is CommonJS: its default export may come wrapped.
    const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (a: Ajv2020) => void;
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: 'doc', components: doc.components } as object);
  }

  static async load(url: string): Promise<ApiChecker> {
    const res = await fetch(`${url}/api/v1/openapi.json`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as Doc & { openapi: string };
    assert.equal(doc.openapi, '3.1.0');
    return new ApiChecker(doc);
  }

  /** The answer must be one the document describes for this operation, and match its schema. */
  check(template: string, method: string, a: Answer): void {
    const op = this.doc.paths[template]?.[method.toLowerCase()];
    assert.ok(op, `the document has no ${method} ${template}`);
    const response = op.responses[String(a.status)];
    assert.ok(response, `${method} ${template}: status ${a.status} is not in the document (${JSON.stringify(a.body)})`);
    const media = a.type.split(';')[0]!.trim();
    const content = response.content?.[media];
    assert.ok(content, `${method} ${template} ${a.status}: content type ${media} is not in the document`);
    const schema = JSON.parse(JSON.stringify(content.schema).replaceAll('"#/components/', '"doc#/components/'));
    const validate = this.ajv.compile(schema);
    assert.ok(validate(a.body), `${method} ${template} ${a.status}: ${this.ajv.errorsText(validate.errors)} in ${JSON.stringify(a.body)}`);
    this.checked++;
  }
}

/** One API call. `body` a string is sent as it is (with `contentType`); otherwise as JSON. */
export async function call(url: string, key: string | null, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Answer> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': contentType } : {}) },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const type = res.headers.get('content-type') ?? '';
  const text = await res.text();
  return { status: res.status, type, headers: res.headers, body: text && type.includes('json') ? JSON.parse(text) : text };
}

/** A problem answer: its status, media type and stable type. */
export function assertProblem(a: Answer, status: number, name: string): void {
  assert.equal(a.status, status, JSON.stringify(a.body));
  assert.match(a.type, /^application\/problem\+json/);
  assert.equal(a.body.type, `/api/v1/problems/${name}`);
  assert.equal(a.body.status, status);
  assert.equal(typeof a.body.detail, 'string');
}

/** Use a launch link as a browser would: the embed cookie (`name=value`) and where it was sent. */
export async function useLink(link: string): Promise<{ status: number; cookie: string; setCookie: string; location: string | null; text: string }> {
  const res = await fetch(link, { redirect: 'manual' });
  const setCookie = res.headers.get('set-cookie') ?? '';
  return { status: res.status, cookie: setCookie.split(';')[0]!, setCookie, location: res.headers.get('location'), text: await res.text() };
}

/** The embed view's socket for a launch's cookie. */
export function embedSocket(url: string, cookie: string): Promise<TestClient> {
  return TestClient.connect(url, undefined, { cookie, origin: url }, '?embed=1');
}

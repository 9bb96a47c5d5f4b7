// The OpenAPI 3.1 document of the REST API v1, made from the schemas in api-schemas.ts (zod's
// JSON Schema output is draft 2020-12, the dialect OpenAPI 3.1 uses).
import { z } from 'zod';
import {
  CloseResponse,
  ExtendResponse,
  LabsResponse,
  LaunchRequest,
  LaunchResponse,
  PROBLEMS,
  Problem,
  ProgressResponse,
  problemType,
  type ProblemName,
} from './api-schemas.js';

type Json = Record<string, unknown>;

function schema(s: z.ZodType, io: 'input' | 'output' = 'output'): Json {
  const out = z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  delete out.$schema;
  return out;
}

const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });

function problems(...names: ProblemName[]): Json {
  const out: Json = {};
  for (const n of names) {
    const code = String(PROBLEMS[n].status);
    const prior = out[code] as { description: string } | undefined;
    out[code] = {
      description: prior ? `${prior.description}; ${problemType(n)}` : `${PROBLEMS[n].title}: ${problemType(n)}`,
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      ...(n === 'rate-limited' ? { headers: { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer' } } } } : {}),
    };
  }
  return out;
}

const COMMON: ProblemName[] = ['unauthorized', 'key-revoked', 'rate-limited', 'unavailable', 'internal'];
const labId = { name: 'id', in: 'path', required: true, schema: { type: 'string', maxLength: 64 }, description: 'a lab id from GET /api/v1/labs' };

export function openApiDocument(): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'nslab portal API',
      version: '1',
      description:
        'Launch labs for your learners, read their progress, manage their labs. Every request carries `Authorization: Bearer <key>` (`nslab keys create`); errors are RFC 9457 problem details.',
    },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    paths: {
      '/api/v1/launches': {
        post: {
          operationId: 'createLaunch',
          summary: 'A single-use link that opens a lesson for one learner',
          requestBody: { required: true, content: json('LaunchRequest') },
          responses: {
            '201': { description: 'the link', content: json('LaunchResponse') },
            ...problems(...COMMON, 'bad-json', 'invalid-request', 'unsupported-media-type', 'payload-too-large', 'unknown-lesson'),
          },
        },
      },
      '/api/v1/users/{user}/progress': {
        get: {
          operationId: 'userProgress',
          summary: "A learner's lessons and tasks done, with times",
          parameters: [
            { name: 'user', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 256 }, description: 'your id for the learner' },
          ],
          responses: { '200': { description: 'the progress', content: json('ProgressResponse') }, ...problems(...COMMON, 'invalid-request') },
        },
      },
      '/api/v1/labs': {
        get: {
          operationId: 'listLabs',
          summary: "Your learners' open labs",
          responses: { '200': { description: 'the labs', content: json('LabsResponse') }, ...problems(...COMMON) },
        },
      },
      '/api/v1/labs/{id}/extend': {
        post: {
          operationId: 'extendLab',
          summary: 'Half an hour more for a lab',
          parameters: [labId],
          responses: { '200': { description: 'its new closing time', content: json('ExtendResponse') }, ...problems(...COMMON, 'unknown-lab') },
        },
      },
      '/api/v1/labs/{id}': {
        delete: {
          operationId: 'closeLab',
          summary: 'Close a lab now (progress is kept)',
          parameters: [labId],
          responses: { '200': { description: 'closed', content: json('CloseResponse') }, ...problems(...COMMON, 'unknown-lab') },
        },
      },
    },
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'an nslab API key (nsk_...)' } },
      schemas: {
        LaunchRequest: schema(LaunchRequest, 'input'),
        LaunchResponse: schema(LaunchResponse),
        ProgressResponse: schema(ProgressResponse),
        LabsResponse: schema(LabsResponse),
        ExtendResponse: schema(ExtendResponse),
        CloseResponse: schema(CloseResponse),
        Problem: schema(Problem),
      },
    },
  };
}

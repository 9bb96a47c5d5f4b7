// The REST API v1 for training portals, described once: every request body and every answer is
// a zod schema here. The server checks requests with them, and the OpenAPI 3.1 document
// (openapi.ts) is made from them, so the document and the code cannot drift apart.
import { z } from 'zod';

const lessonId = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,63}$/)
  .describe('a lesson id, as `nslab lessons` lists them');
const userId = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[^\p{Cc}\p{Cs}]*$/u)
  .describe("the portal's own opaque id for its learner (at most 256 characters, no control characters)");
const time = z.iso.datetime().describe('an ISO 8601 time, UTC');
const httpsUrl = z
  .string()
  .max(2048)
  .regex(/^https?:\/\/\S+$/)
  .describe('an absolute http(s) URL');

export const LaunchRequest = z
  .strictObject({
    lesson: lessonId,
    user: userId,
    name: z
      .string()
      .min(1)
      .max(80)
      .regex(/^[^\p{Cc}\p{Cs}]*$/u)
      .optional()
      .describe('how the learner is shown (e.g. to an instructor); optional'),
    lang: z.enum(['en', 'zh']).optional().describe('the lesson language (default en)'),
    returnUrl: httpsUrl.optional().describe('where the embed view links back to'),
    expiresIn: z.number().int().min(10).max(3600).optional().describe('seconds the link stays valid (default 60)'),
  })
  .describe('A lab for one of your learners');

export const LaunchResponse = z.strictObject({
  url: z.string().describe('the single-use link: open it (in an iframe, or with NSLab.mount) before expiresAt'),
  expiresAt: time,
});

export const TaskDone = z.strictObject({ task: z.string(), doneAt: time });

export const LessonProgress = z.strictObject({
  lesson: z.string(),
  title: z.string().describe('the lesson title in English'),
  tasksDone: z.number().int(),
  tasksTotal: z.number().int(),
  completedAt: time.nullable().describe('when the last of its tasks was done; null until then'),
  tasks: z.array(TaskDone).describe('the tasks done, oldest first, each with the first time it was done'),
});

export const ProgressResponse = z.strictObject({
  user: z.string(),
  lessons: z.array(LessonProgress).describe('every lesson the learner has done a task of'),
});

export const PortalLab = z.strictObject({
  id: z.string(),
  user: z.string(),
  lesson: z.string(),
  createdAt: time,
  closesAt: time.nullable().describe('when the lab closes by its lifetime (idle time may close it sooner); null: no limit'),
  panes: z.array(z.strictObject({ name: z.string(), running: z.boolean() })),
});

export const LabsResponse = z.strictObject({ labs: z.array(PortalLab) });
export const ExtendResponse = z.strictObject({ id: z.string(), closesAt: time.nullable() });
export const CloseResponse = z.strictObject({ id: z.string(), closed: z.literal(true) });

/** RFC 9457 problem details, with the checks that failed for a request that is not valid. */
export const Problem = z.looseObject({
  type: z.string().describe('a stable URI reference per kind of error, /api/v1/problems/<name>'),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.strictObject({ path: z.string(), message: z.string() })).optional(),
});

/** Every problem the API answers, by name: its status and title. */
export const PROBLEMS = {
  unauthorized: { status: 401, title: 'An API key is required' },
  'key-revoked': { status: 401, title: 'The API key was revoked' },
  'bad-json': { status: 400, title: 'The body is not JSON' },
  'invalid-request': { status: 400, title: 'The request is not valid' },
  'unsupported-media-type': { status: 415, title: 'The body must be application/json' },
  'payload-too-large': { status: 413, title: 'The body is too large' },
  'unknown-lesson': { status: 422, title: 'There is no such lesson' },
  'unknown-lab': { status: 404, title: 'There is no such lab (for this key)' },
  'not-found': { status: 404, title: 'There is no such endpoint' },
  'method-not-allowed': { status: 405, title: 'This endpoint does not take that method' },
  'rate-limited': { status: 429, title: 'Too many requests for this key' },
  unavailable: { status: 503, title: 'The agent cannot answer right now' },
  internal: { status: 500, title: 'The agent failed' },
} as const satisfies Record<string, { status: number; title: string }>;
export type ProblemName = keyof typeof PROBLEMS;

export const problemType = (name: ProblemName) => `/api/v1/problems/${name}`;

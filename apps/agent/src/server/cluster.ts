// This agent among several (docs/router.md): what it says of itself on /healthz, and draining.
// A drain stops new labs (the manager refuses them and empties its pools), and closes the agent
// once its last learner's lab has ended or the deadline has passed, whichever comes first.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { PROTOCOL_VERSION } from '@nslab/shared';
import type { AgentSelf } from '@nslab/shared/cluster';
import type { AgentConfig } from '../config.js';
import type { LabManager } from '../sandbox/labs.js';
import { bearer, tokenMatches } from './auth.js';
import { BodyTooLarge, readBody } from './body.js';

export const DRAIN_PATH = '/api/drain';
const DrainBody = z
  .object({
    deadlineS: z
      .number()
      .min(0)
      .max(7 * 24 * 3600)
      .optional(),
  })
  .strict();

export class ClusterMember {
  private deadline: NodeJS.Timeout | null = null;
  private deadlineAt: number | null = null;
  private finished = false;

  constructor(
    private readonly config: AgentConfig,
    private readonly manager: LabManager,
    /** The agent's own listen URL (the advertised one when none is configured). */
    private readonly ownUrl: () => string,
    /** Called once when a drain is over: the agent closes itself. */
    private readonly onDrained: (why: string) => void,
  ) {}

  self(): AgentSelf {
    return {
      id: this.config.cluster.agentId,
      tag: this.manager.tag ?? '',
      url: this.config.cluster.advertiseUrl ?? this.ownUrl(),
      version: this.config.cluster.version,
      protocol: PROTOCOL_VERSION,
      draining: this.manager.draining !== null,
      clustered: this.manager.tag !== null,
    };
  }

  /** Begin draining (again: the earlier deadline stays unless the new one is sooner). */
  drain(deadlineMs = this.config.cluster.drainDeadlineMs): { draining: true; labs: number; deadline: string } {
    const at = Date.now() + deadlineMs;
    if (this.deadlineAt === null || at < this.deadlineAt) {
      if (this.deadline) clearTimeout(this.deadline);
      this.deadlineAt = at;
      this.deadline = setTimeout(() => this.finish('the drain deadline passed'), deadlineMs);
    }
    if (this.manager.draining === null) {
      this.manager.once('drained', () => this.finish('the last lab ended'));
      this.manager.drain();
    }
    return { draining: true, labs: this.manager.labs.size, deadline: new Date(this.deadlineAt).toISOString() };
  }

  private finish(why: string) {
    if (this.finished) return;
    this.finished = true;
    this.stop();
    this.onDrained(why);
  }

  stop() {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = null;
  }

  /** POST /api/drain with the agent token; true when the request was this route's. */
  route(req: IncomingMessage, res: ServerResponse, path: string, token: string): boolean {
    if (path !== DRAIN_PATH) return false;
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      reply(405, { error: 'bad-request', message: 'POST /api/drain drains the agent' });
      return true;
    }
    if (!tokenMatches(token, bearer(req.headers.authorization))) {
      res.setHeader('www-authenticate', 'Bearer');
      reply(401, { error: 'unauthenticated', message: 'the agent token is required (Authorization: Bearer ...)' });
      return true;
    }
    readBody(req, 4096).then(
      (buf) => {
        const text = buf.toString('utf8').trim();
        let raw: unknown = {};
        if (text) {
          try {
            raw = JSON.parse(text);
          } catch {
            return reply(400, { error: 'bad-json', message: 'the body is not JSON; send {"deadlineS": N} or nothing' });
          }
        }
        const body = DrainBody.safeParse(raw);
        if (!body.success) {
          const issue = body.error.issues[0]!;
          return reply(400, { error: 'bad-request', message: `${issue.path.join('.') || 'body'}: ${issue.message}` });
        }
        reply(202, this.drain(body.data.deadlineS === undefined ? undefined : body.data.deadlineS * 1000));
      },
      (err: unknown) => {
        if (err instanceof BodyTooLarge) return reply(413, { error: 'too-large', message: 'the body holds at most {"deadlineS": N}' });
        res.destroy();
      },
    );
    return true;
  }
}

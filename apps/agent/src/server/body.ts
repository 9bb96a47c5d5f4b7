// Reading a request's body with a cap: a client says how much it sends (Content-Length) and may
// lie, so the bytes are counted as they come. Each endpoint turns BodyTooLarge into its own answer.
import type { IncomingMessage } from 'node:http';

export class BodyTooLarge extends Error {
  constructor(readonly max: number) {
    super(`the body is larger than ${max} bytes`);
  }
}

/** The whole body, or BodyTooLarge as soon as it is known to exceed `max` bytes. */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  if (Number(req.headers['content-length'] ?? 0) > max) throw new BodyTooLarge(max);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new BodyTooLarge(max);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

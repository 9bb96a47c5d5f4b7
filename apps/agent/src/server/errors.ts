// An error a request answers with, by its protocol code (docs/protocol.md, Errors).
import type { ErrorCode } from '@nslab/shared';

export class ClientError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

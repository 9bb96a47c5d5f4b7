// A workshop refused something, by its protocol code (docs/workshops.md, Errors).
import type { ErrorCode } from '@nslab/shared';

export class WorkshopError extends Error {
  constructor(
    readonly code: Extract<ErrorCode, 'bad-code' | 'workshop-full' | 'workshop-not-open' | 'workshop-closed' | 'forbidden' | 'unknown-lesson' | 'bad-message'>,
    message: string,
  ) {
    super(message);
  }
}

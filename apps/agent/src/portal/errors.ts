// A portal request that cannot be done, with a code the API turns into its problem type.
export type PortalErrorCode = 'invalid' | 'conflict' | 'not-found';

export class PortalError extends Error {
  constructor(
    readonly code: PortalErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PortalError';
  }
}

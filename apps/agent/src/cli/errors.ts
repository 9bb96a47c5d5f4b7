// Error types the CLI turns into a one-line `nslab: <message>` on stderr and an exit code.

/** An expected failure: printed as `nslab: <message>`, exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The command line was wrong: exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** The agent answered a request with `{type: 'error'}`: the protocol's own error type (exit code 1). */
export { AgentError } from '@nslab/shared';

/** The agent could not be reached, or the connection to it failed or dropped. */
export class ConnectionError extends CliError {}

/** The agent refused us: no token, or a wrong one. */
export class AuthError extends CliError {}

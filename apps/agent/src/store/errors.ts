// The one error type the store hands to its callers. Every failure, from a refused input to a
// database that went away, becomes a StoreError with a code the caller can act on and a
// message that names the store (its path, or its URL with the password hidden) and the reason.

export type StoreErrorCode =
  /** The input was refused at the boundary (bad shape, too long, forged characters). */
  | 'invalid'
  /** The store could not be opened: path, permissions, connection, authentication. */
  | 'open'
  /** Another live process holds the embedded store. */
  | 'in-use'
  /** The schema could not be brought to this agent's version. */
  | 'migrate'
  /** The database is unreachable right now (stopped, restarted, network); retry later. */
  | 'unavailable'
  /** The database answered with an error for this operation. */
  | 'failed'
  /** A row with this key (an id, a join code) is already there. */
  | 'conflict'
  /** The store was closed. */
  | 'closed';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    /** The store's path, or its URL with the password hidden; empty for input errors. */
    readonly where: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A database URL fit for a log line: the password (in the authority or a parameter) hidden. */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '(an unparsable database URL)';
  }
  if (u.password) u.password = '***';
  for (const key of [...u.searchParams.keys()]) {
    if (/pass|secret|key/i.test(key)) u.searchParams.set(key, '***');
  }
  return u.toString();
}

/** The reason an error gives, on one line, with any secret in it replaced. */
export function reasonOf(err: unknown, secrets: readonly string[] = []): string {
  let text: string;
  if (err instanceof AggregateError && err.errors.length) {
    // net.connect to a name with several addresses fails with one error per address.
    text = [...new Set(err.errors.map((e) => reasonOf(e)))].join('; ');
  } else if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    text = err.message || String(code ?? err.name);
    if (typeof code === 'string' && code && !text.includes(code)) text += ` (${code})`;
  } else {
    text = String(err);
  }
  for (const s of secrets) if (s) text = text.split(s).join('***');
  return text.replace(/\s+/g, ' ').trim();
}

// Errors that mean "the server is not there right now", as opposed to "the server said no".
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT', // a Unix socket path that is gone
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
  '53300', // too_many_connections
]);

export function isConnectionError(err: unknown): boolean {
  if (err instanceof AggregateError) return err.errors.some(isConnectionError);
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|not queryable/i.test(
    err.message,
  );
}

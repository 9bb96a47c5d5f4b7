// What every way of finding agents gives the router: the base URLs to ask for /healthz, now.
// The list is read again on every health round, so agents come and go without a restart.
export interface Discovery {
  /** The agents' base URLs (http://address:port), each once. Throws when the source cannot answer. */
  list(): Promise<string[]>;
  /** Said in logs and on errors: where the list comes from. */
  readonly describe: string;
}

/** A base URL for an address and port (IPv6 in brackets). */
export function baseUrl(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

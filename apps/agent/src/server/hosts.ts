// Which Host headers the agent answers to. A page on another site can reach an agent that
// listens on 127.0.0.1 by DNS rebinding: its own name, re-pointed at 127.0.0.1, so the browser
// sends `Host: evil.example` (and that site's Origin, and cookies it set itself). Such a request
// must get nothing: no session, no page, no WebSocket. An IP address in Host cannot be rebound
// (the page's origin is then that address), nor can `localhost`; any other name must be one the
// operator named (the public name behind a reverse proxy).
import { isIP } from 'node:net';

export type HostCheck = (host: string | undefined) => boolean;

/** Split "name:port", "[v6]:port", "name" into its host part, lowercased. */
function hostPart(header: string): string | null {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return null;
    const rest = h.slice(end + 1);
    if (rest && !/^:\d{1,5}$/.test(rest)) return null;
    return h.slice(1, end);
  }
  const m = /^([^:]+)(:\d{1,5})?$/.exec(h);
  return m ? m[1]! : null;
}

/**
 * `allowed`: names (any port) or name:port pairs, from the configuration; `bindHost`: the address
 * or name the agent listens on, which is always allowed.
 */
export function hostCheck(allowed: string[], bindHost: string): HostCheck {
  const names = new Set<string>();
  const exact = new Set<string>();
  for (const a of [...allowed, bindHost]) {
    const lower = a.toLowerCase();
    if (/:\d{1,5}$/.test(lower) && !lower.startsWith('[') && lower.split(':').length === 2) exact.add(lower);
    else names.add(lower.replace(/^\[|\]$/g, ''));
  }
  return (header) => {
    if (!header) return false;
    const host = hostPart(header);
    if (!host) return false;
    if (isIP(host)) return true;
    if (host === 'localhost' || host.endsWith('.localhost')) return true;
    return names.has(host) || exact.has(header.trim().toLowerCase());
  };
}

/** The answer to a request for a host the agent does not serve. */
export function misdirectedText(host: string | undefined): string {
  const shown = host ? `"${host.slice(0, 100)}"` : '(none)';
  return (
    `421 Misdirected Request: this nslab agent does not answer to the host ${shown}.\n` +
    'It answers to its IP addresses and localhost. If this is its public name, add it to allowedHosts ' +
    'in the configuration file (or NSLAB_ALLOWED_HOSTS).\n'
  );
}

// The address a request comes from, for the limits kept per client address (labs, opens, wrong
// tokens, joins, LTI logins). Behind a router or a reverse proxy every request comes from the
// proxy: the agent then believes X-Forwarded-For, but only from the proxies the operator named
// (NSLAB_TRUSTED_PROXIES), reading it from the right, past every trusted hop; anyone else could
// write any address there.
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

export type AddressOf = (req: IncomingMessage) => string;

/** `trusted`: addresses or CIDR ranges (`10.0.0.0/8`, `fd00::/8`) of the proxies in front. */
export function clientAddress(trusted: readonly string[]): AddressOf {
  const list = new BlockList();
  for (const entry of trusted) {
    const [addr, bits] = entry.split('/') as [string, string | undefined];
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  const isTrusted = (a: string) => {
    const plain = a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
    const family = isIP(plain);
    return family !== 0 && list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  };
  return (req) => {
    let address = req.socket.remoteAddress ?? 'unknown';
    if (!trusted.length || !isTrusted(address)) return address;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean);
    // From the right: the nearest hop first; the first one not trusted is the client.
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (isIP(hop) === 0) return address; // not an address: believe nothing further left
      address = hop;
      if (!isTrusted(hop)) return hop;
    }
    return address;
  };
}

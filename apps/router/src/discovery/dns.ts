// Agents from a DNS name (NSLAB_AGENTS_DNS, name:port): every address the name has, looked up
// again on every health round. A headless Service's name, or a round-robin record, works; the
// system resolver is used (so /etc/hosts counts too).
import { lookup } from 'node:dns/promises';
import { baseUrl, type Discovery } from './source.js';

export function dnsDiscovery(name: string, port: number): Discovery {
  return {
    describe: `the addresses of ${name} (port ${port})`,
    async list() {
      let found: { address: string }[];
      try {
        found = await lookup(name, { all: true, verbatim: true });
      } catch (err) {
        throw new Error(`cannot look up ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      return [...new Set(found.map((a) => baseUrl(a.address, port)))];
    },
  };
}

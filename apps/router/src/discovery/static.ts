// A fixed list of agents (NSLAB_AGENTS): for a few machines without DNS or Kubernetes.
import type { Discovery } from './source.js';

export function staticDiscovery(urls: readonly string[]): Discovery {
  const list = [...new Set(urls.map((u) => u.replace(/\/+$/, '')))];
  return { describe: `the list ${list.join(', ')}`, list: async () => list };
}

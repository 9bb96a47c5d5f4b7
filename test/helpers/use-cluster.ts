// The cluster of a test file (test/helpers/cluster.ts): started before its tests, with a router
// whose agents are all healthy when asked for, and stopped after them whatever happened.
import { after, before } from 'node:test';
import { Cluster, type Router } from './cluster.ts';

/** Wait until the router sees `n` healthy agents. */
export function allHealthy(router: Router, n: number) {
  return router.waitAgents(`${n} healthy agents`, (a) => a.filter((x) => x.healthy).length === n);
}

export function useCluster(
  skip: false | string,
  opts: { hosts: number; router?: boolean; web?: boolean },
  got: (cluster: Cluster, router: Router | null) => void,
) {
  let cluster: Cluster | null = null;
  before(async () => {
    if (skip) return;
    cluster = await Cluster.start({ hosts: opts.hosts, web: opts.web === true });
    let router: Router | null = null;
    if (opts.router) {
      router = await cluster.startRouter();
      await allHealthy(router, opts.hosts);
    }
    got(cluster, router);
  });
  after(async () => {
    await cluster?.stop();
  });
}

// A training portal in front of several agents (docs/portals.md, docs/router.md): its server
// calls the router, never a particular agent. A launch made through the router works wherever the
// learner's lab lands; GET /api/v1/labs on any agent lists the key's labs on every agent (from the
// shared store); a call naming a lab reaches the agent that holds it; another key sees nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rootOrSkip } from '../helpers/env.ts';
import { useCluster } from '../helpers/use-cluster.ts';
import { type Cluster, connect, type Router } from '../helpers/cluster.ts';
import { TestClient, ok } from '../helpers/ws.ts';
import { waitFor } from '../helpers/wait.ts';
import { assertProblem, call, useLink } from '../portal/portal.ts';

const skip = rootOrSkip('the cluster tests');
let cluster: Cluster;
let router: Router;

useCluster(skip, { hosts: 3, router: true }, (c, r) => void ([cluster, router] = [c, r!]));

async function newKey(name: string): Promise<string> {
  const admin = await connect(cluster.host(1).url, { token: cluster.token });
  try {
    return (await ok(admin, { type: 'key-create', name, origins: ['https://academy.example'] })).key as string;
  } finally {
    admin.close();
  }
}

type Listed = { id: string; user: string; lesson: string; createdAt: string; closesAt: string | null; panes: Array<{ name: string; running: boolean }> };

test("a portal's labs on three agents: listed from any agent and the router; a lab's calls reach its agent", { skip, timeout: 240_000 }, async () => {
  const key = await newKey('academy');
  const other = await newKey('elsewhere');
  const pages: TestClient[] = [];
  try {
    // Three learners, each launched through the router; learner n's page is served by host n.
    const labs: Array<{ id: string; user: string; host: number }> = [];
    for (let n = 1; n <= 3; n++) {
      const user = `learner-${n}`;
      const made = await call(router.url, key, 'POST', '/api/v1/launches', { lesson: n === 3 ? 'pid' : 'uts', user });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      assert.ok(made.body.url.startsWith(`${router.url}/launch/`), `the link points at the router: ${made.body.url}`);
      const used = await useLink(made.body.url);
      assert.equal(used.status, 303, 'any agent takes the launch: it is in the shared store');
      const host = cluster.host(n);
      const page = await TestClient.connect(host.url, undefined, { cookie: used.cookie, origin: host.url }, '?embed=1');
      pages.push(page);
      const lab = (await ok(page, { type: 'open', lesson: n === 3 ? 'pid' : 'uts' })).id as string;
      assert.ok(lab.startsWith(host.tag), `learner ${n}'s lab is on host${n}`);
      labs.push({ id: lab, user, host: n });
    }

    // Every agent, and the router, list the key's three labs with their users and lessons.
    const want = labs.map((l) => [l.id, l.user]).sort();
    for (const base of [router.url, cluster.host(1).url, cluster.host(2).url, cluster.host(3).url]) {
      const got = await waitFor(`${base} lists three labs`, async () => {
        const r = await call(base, key, 'GET', '/api/v1/labs');
        return r.status === 200 && r.body.labs.length === 3 ? (r.body.labs as Listed[]) : null;
      });
      assert.deepEqual(got.map((l) => [l.id, l.user]).sort(), want, `${base}: the key's labs on every agent`);
      const pid = got.find((l) => l.user === 'learner-3')!;
      assert.equal(pid.lesson, 'pid');
      assert.ok(pid.panes.length >= 2 && pid.panes.every((p) => p.running), 'its panes, running');
      assert.ok(pid.closesAt === null || Date.parse(pid.closesAt) > Date.now());
      // Another key's learners are not this key's business, wherever they are.
      const theirs = await call(base, other, 'GET', '/api/v1/labs');
      assert.deepEqual(theirs.body.labs, [], `${base}: nothing for another key`);
    }

    // A call naming a lab reaches its agent through the router; an agent that does not hold it
    // says it does not know it (a portal calls the router).
    const far = labs[2]!;
    assertProblem(await call(cluster.host(1).url, key, 'DELETE', `/api/v1/labs/${far.id}`), 404, 'unknown-lab');
    assertProblem(await call(router.url, other, 'DELETE', `/api/v1/labs/${far.id}`), 404, 'unknown-lab');
    const ext = await call(router.url, key, 'POST', `/api/v1/labs/${far.id}/extend`);
    assert.equal(ext.status, 200, JSON.stringify(ext.body));
    assert.equal(ext.headers.get('x-nslab-agent'), cluster.host(3).id, 'answered by the agent that holds it');
    const del = await call(router.url, key, 'DELETE', `/api/v1/labs/${far.id}`);
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.equal(del.headers.get('x-nslab-agent'), cluster.host(3).id);
    // Gone from every agent's list at once: its agent removed its row as it closed.
    for (let n = 1; n <= 3; n++) {
      const r = await call(cluster.host(n).url, key, 'GET', '/api/v1/labs');
      assert.deepEqual(
        (r.body.labs as Listed[]).map((l) => l.id).sort(),
        labs
          .slice(0, 2)
          .map((l) => l.id)
          .sort(),
        `host${n} no longer lists the closed lab`,
      );
    }
  } finally {
    for (const p of pages) p.close();
  }
});

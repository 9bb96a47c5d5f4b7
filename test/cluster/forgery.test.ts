// Whatever a client holds that points at a lab is signed (docs/router.md): a lab id altered by
// one character, of the wrong shape, or signed with another cluster's key is refused by the
// router (4403 and a sentence), and so is a read-only link whose lab id was altered; a link
// moved onto another lab's id gets nothing from the agent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { clusterKey, mintLabId } from '@nslab/shared/cluster';
import { rootOrSkip } from '../helpers/env.ts';
import { useCluster } from '../helpers/use-cluster.ts';
import { type Cluster, ROUTER_CLOSE, connect, execIn, openLab, type Router } from '../helpers/cluster.ts';
import { ok, refused } from '../helpers/ws.ts';

const skip = rootOrSkip('the cluster tests');
let cluster: Cluster;
let router: Router;

useCluster(skip, { hosts: 3, router: true }, (c, r) => void ([cluster, router] = [c, r!]));

/** The id with the character at `i` changed to another one of the alphabet. */
function alter(id: string, i: number): string {
  const c = id[i]!;
  return id.slice(0, i) + (c === 'a' ? 'b' : 'a') + id.slice(i + 1);
}

test('an altered, malformed or foreign lab id is refused with 4403; the real one works', { skip, timeout: 120_000 }, async () => {
  const owner = await connect(router.url, { token: cluster.token });
  const lab = await openLab(owner, 'uts');
  const other = cluster.hostOf(lab)!.n === 1 ? cluster.host(2) : cluster.host(1);
  const foreign = mintLabId(clusterKey(randomBytes(24).toString('base64url')), other.tag);
  const bad = [
    alter(lab, 0), // the tag: to point it at another agent
    alter(lab, 1),
    alter(lab, 10), // the random part
    alter(lab, 29), // the signature
    `${other.tag}${lab.slice(6)}`, // another agent's tag on this lab
    lab.slice(0, 29),
    `${lab}a`,
    lab.toUpperCase(),
    'x',
    foreign, // well formed, signed with another cluster's key
  ];
  for (const id of bad) {
    const c = await connect(router.url, { token: cluster.token, lab: id });
    assert.deepEqual(await c.waitClosed(10_000), ROUTER_CLOSE.altered, `lab=${id} is refused`);
  }
  const good = await connect(router.url, { token: cluster.token, lab });
  assert.equal(await execIn(good, lab, ['echo', 'genuine']), 'genuine\n');
  good.close();
  owner.close();
});

test('a read-only link with an altered lab id is refused; one moved onto another lab gets nothing', { skip, timeout: 120_000 }, async () => {
  // Two labs, through the router, with their owners' sessions.
  const cookie = await routerSessionCookie();
  const owner = await connect(router.url, { cookie, origin: router.url });
  const lab = await openLab(owner, 'uts');
  const { token } = await ok(owner, { type: 'share', lab });
  const [linkLab, nonce, sig] = token.split('.');
  assert.equal(linkLab, lab, 'the link names its lab first');

  // The genuine link works through the router, from a stranger's page.
  const viewer = await connect(router.url, { lab });
  assert.equal((await ok(viewer, { type: 'view', token })).id, lab);
  viewer.close();

  // Its lab id altered (to reach another agent, or another lab): refused before any agent sees it.
  for (const altered of [alter(lab, 0), alter(lab, 12), alter(lab, 29)]) {
    const c = await connect(router.url, { lab: altered });
    assert.deepEqual(await c.waitClosed(10_000), ROUTER_CLOSE.altered);
  }
  // Moved onto another genuine lab's id (so the router lets it through): the agent refuses it.
  const second = await openLab(owner, 'pid');
  const moved = `${second}.${nonce}.${sig}`;
  const c = await connect(router.url, { lab: second });
  await refused(c, { type: 'view', token: moved }, 'bad-link');
  await refused(c, { type: 'attach', lab: second, pane: 'host', cols: 80, rows: 24 }, 'unauthenticated');
  c.close();
  owner.close();
});

async function routerSessionCookie(): Promise<string> {
  const res = await fetch(`${router.url}/api/session`);
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  assert.match(cookie, /^nslab_session=/, 'the router passes the session cookie on');
  return cookie;
}

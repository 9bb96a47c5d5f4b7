// Portals in the durable store (migration 3): API keys, portal users, one-time launches, webhook
// endpoints, the outbox and the LTI tool's logins, against both engines: the embedded one and a
// real PostgreSQL server the test starts itself.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { openStore, type Store, type StoreTarget } from '../../apps/agent/src/store/index.ts';
import { engineCases, rawQuery, rejects } from './engines.ts';

const T0 = Date.parse('2026-03-01T09:00:00.000Z');
const hash = (s: string) => createHash('sha256').update(s).digest('hex');
const SID = (n: number) => `pZm9vYmFyYmF6cXV4${String(n).padStart(4, '0')}`;

for (const c of engineCases()) {
  describe(`portals in the store on ${c.name}`, { skip: c.skip }, () => {
    before(() => c.setup());
    after(() => c.teardown());

    async function withStore(fn: (s: Store) => Promise<void>, target?: StoreTarget): Promise<void> {
      const t = target ?? (await c.fresh());
      const s = await openStore(t);
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    }

    test('keys: kept as hashes; a live name is unique, a revoked one is free again; bad input refused', async () => {
      const t = await c.fresh();
      await withStore(async (s) => {
        const k = await s.portal.createApiKey({ id: 'key000001', name: 'academy', keyHash: hash('k1'), origins: ['https://a.example'], createdAt: T0 });
        assert.deepEqual(k.origins, ['https://a.example']);
        await rejects(s.portal.createApiKey({ id: 'key000002', name: 'academy', keyHash: hash('k2'), origins: [] }), 'conflict', /exists already/);
        assert.equal((await s.portal.apiKeyByHash(hash('k1')))?.name, 'academy');
        assert.equal((await s.portal.revokeApiKey('academy', T0 + 1))?.id, 'key000001');
        assert.equal(await s.portal.revokeApiKey('academy'), undefined, 'revoked once');
        assert.ok((await s.portal.apiKeyByHash(hash('k1')))?.revokedAt, 'a revoked key is still known as revoked');
        await s.portal.createApiKey({ id: 'key000003', name: 'academy', keyHash: hash('k3'), origins: [] });
        assert.equal((await s.portal.liveApiKeyByName('academy'))?.id, 'key000003');
        await rejects(s.portal.createApiKey({ id: 'key000004', name: 'Bad Name', keyHash: hash('k4'), origins: [] }), 'invalid', /name/);
        await rejects(s.portal.createApiKey({ id: 'key000005', name: 'x', keyHash: 'nothex', origins: [] }), 'invalid', /keyHash/);
        await rejects(s.portal.createApiKey({ id: 'key000006', name: 'y', keyHash: hash('k6'), origins: ['https://a.example/path'] }), 'invalid', /origin/);
      }, t);
      // Closed, the file (or database) holds hashes only.
      const rows = await rawQuery(t, 'SELECT key_hash FROM api_key ORDER BY id');
      assert.equal(rows.length, 2);
      assert.ok(rows.every((r) => /^[0-9a-f]{64}$/.test(String(r.key_hash))));
    });

    test('a launch is used once, even by many at the same moment, and never after it expires', async () => {
      await withStore(async (s) => {
        const base = { keyId: 'key000001', user: 'u1', lesson: 'uts', lang: 'en' as const, createdAt: T0 };
        await s.portal.createLaunch({ ...base, tokenHash: hash('t1'), expiresAt: T0 + 60_000 });
        const results = await Promise.all(Array.from({ length: 8 }, () => s.portal.useLaunch(hash('t1'), T0 + 1000)));
        assert.equal(results.filter((r) => r.ok).length, 1);
        assert.ok(results.filter((r) => !r.ok).every((r) => !r.ok && r.why === 'used'));
        await s.portal.createLaunch({ ...base, tokenHash: hash('t2'), expiresAt: T0 + 60_000 });
        assert.deepEqual(await s.portal.useLaunch(hash('t2'), T0 + 60_000), { ok: false, why: 'expired' });
        assert.deepEqual(await s.portal.useLaunch(hash('t3'), T0), { ok: false, why: 'unknown' });
        assert.equal(await s.portal.pruneLaunches(T0 + 120_000), 2);
      });
    });

    test('portal users: one session per source and user; a session cannot change hands', async () => {
      await withStore(async (s) => {
        const u = { sessionId: SID(1), source: 'key:key000001', user: 'u1', lesson: 'uts', lang: 'en' as const, at: T0 };
        await s.portal.upsertPortalUser(u);
        const again = await s.portal.upsertPortalUser({ ...u, lesson: 'pid', lang: 'zh', returnUrl: 'https://a.example/x', at: T0 + 5 });
        assert.equal(again.lesson, 'pid');
        assert.equal(again.createdAt.getTime(), T0, 'first seen stays');
        await rejects(s.portal.upsertPortalUser({ ...u, user: 'someone-else' }), 'conflict', /another user/);
        await rejects(s.portal.upsertPortalUser({ ...u, sessionId: SID(2) }), 'failed', /./);
        await rejects(s.portal.upsertPortalUser({ ...u, returnUrl: 'javascript:alert(1)' }), 'invalid', /returnUrl/);
        assert.deepEqual(
          (await s.portal.portalUsersOf([SID(1), SID(9)])).map((x) => x.user),
          ['u1'],
        );
      });
    });

    test('the outbox: in order per ordering key, independent across keys; retried, then done or given up', async () => {
      await withStore(async (s) => {
        const add = (id: string, key: string, at: number) =>
          s.outbox.enqueue({ id, kind: 'webhook', target: 'endp00001', orderingKey: key, event: 'task.completed', payload: { n: id }, at });
        const a1 = await add('msg_a1xxxxxx', 'alice', T0);
        await add('msg_a2xxxxxx', 'alice', T0 + 1);
        const b1 = await add('msg_b1xxxxxx', 'bob', T0 + 2);
        // Only the head of each key is due.
        assert.deepEqual(
          (await s.outbox.due(T0 + 10)).map((m) => m.id),
          ['msg_a1xxxxxx', 'msg_b1xxxxxx'],
        );
        // alice's head fails and waits: her next stays behind it; bob's is done.
        await s.outbox.recordAttempt(a1.seq, { at: T0 + 10, ok: false, status: 503, error: 'the endpoint answered 503', ms: 3, retryAt: T0 + 5000 });
        await s.outbox.recordAttempt(b1.seq, { at: T0 + 10, ok: true, status: 204, error: null, ms: 2, retryAt: null });
        assert.deepEqual(await s.outbox.due(T0 + 20), []);
        assert.deepEqual(
          (await s.outbox.due(T0 + 5000)).map((m) => m.id),
          ['msg_a1xxxxxx'],
        );
        // Given up: the next of alice's comes due.
        await s.outbox.recordAttempt(a1.seq, { at: T0 + 5000, ok: false, status: null, error: 'ECONNREFUSED', ms: 1, retryAt: null });
        assert.deepEqual(
          (await s.outbox.due(T0 + 5001)).map((m) => m.id),
          ['msg_a2xxxxxx'],
        );
        assert.equal(await s.outbox.pending(), 1);
        const log = await s.outbox.log('webhook', 'endp00001');
        const first = log.find((m) => m.id === 'msg_a1xxxxxx')!;
        assert.ok(first.failedAt);
        assert.deepEqual(
          first.tries.map((t) => [t.n, t.status, t.error]),
          [
            [1, 503, 'the endpoint answered 503'],
            [2, null, 'ECONNREFUSED'],
          ],
        );
        await rejects(add('msg_a1xxxxxx', 'alice', T0), 'failed', /./);
        await rejects(
          s.outbox.enqueue({ id: 'msg_bigxxxxx', kind: 'webhook', target: 'endp00001', orderingKey: 'x', event: 'e', payload: { pad: 'x'.repeat(70_000) } }),
          'invalid',
          /64 KiB/,
        );
      });
    });

    test('LTI logins are taken once, before they expire; grade targets are kept per session and lesson', async () => {
      await withStore(async (s) => {
        await s.lti.createLtiLogin({
          state: 'state-0123456789abcdef',
          nonce: 'nonce-0123456789abcdef',
          platform: 'plat000001',
          expiresAt: T0 + 600_000,
          at: T0,
        });
        const taken = await Promise.all([s.lti.consumeLtiLogin('state-0123456789abcdef', T0 + 1), s.lti.consumeLtiLogin('state-0123456789abcdef', T0 + 1)]);
        assert.equal(taken.filter(Boolean).length, 1);
        assert.equal(taken.find(Boolean)?.nonce, 'nonce-0123456789abcdef');
        await s.lti.createLtiLogin({ state: 'state-late456789abcdef', nonce: 'nonce-late456789abcdef', platform: 'plat000001', expiresAt: T0 + 10 });
        assert.equal(await s.lti.consumeLtiLogin('state-late456789abcdef', T0 + 10), undefined);
        assert.equal(await s.lti.consumeLtiLogin("'; DROP TABLE lti_login; --"), undefined);
        await s.lti.setLtiGradeTarget({ sessionId: SID(1), lesson: 'uts', platform: 'plat000001', lineitem: 'https://lms.example/li/1', userSub: 'sub-1' });
        await s.lti.setLtiGradeTarget({ sessionId: SID(1), lesson: 'uts', platform: 'plat000001', lineitem: 'https://lms.example/li/2', userSub: 'sub-1' });
        assert.equal((await s.lti.ltiGradeTarget(SID(1), 'uts'))?.lineitem, 'https://lms.example/li/2');
        assert.equal(await s.lti.ltiGradeTarget(SID(1), 'pid'), undefined);
      });
    });
  });
}

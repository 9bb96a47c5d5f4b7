// The durable store, against both engines: the embedded one (a temporary directory) and a real
// PostgreSQL server the test starts itself. Under CI=true the PostgreSQL half must run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore, openStoreWith, redactUrl, type StoreError, type Store, type StoreTarget } from '../../apps/agent/src/store/index.ts';
import { MIGRATIONS, type Migration } from '../../apps/agent/src/store/migrations.ts';
import { PgServer, dbPath, engineCases, freshDir, pgSkip, rawQuery, rejects, removeDirs } from './engines.ts';
import { IN_CI, IS_ROOT } from '../helpers/env.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..');
const CHILD = join(HERE, 'child.ts');
const SID = 'Zm9vYmFyYmF6cXV4MTIz'; // shaped like the agent's session ids

/** Start child.ts; resolves with the process once it printed `word`. */
function startChild(args: string[], word: string) {
  const p = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr.on('data', (b) => (err += b));
  const exited = new Promise<void>((r) => p.on('exit', () => r()));
  const ready = new Promise<void>((resolve, reject) => {
    let out = '';
    p.stdout.on('data', (b) => {
      out += b;
      if (out.includes(word)) resolve();
    });
    p.on('exit', (code, sig) => reject(new Error(`child exited (${code ?? sig}) before "${word}": ${err}`)));
  });
  return { p, ready, exited };
}

async function eventually<T>(fn: () => Promise<T>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const cases = engineCases();

// The migration after the last one this agent ships.
const NEXT = MIGRATIONS.length + 1;
const EXTRA: Migration = {
  version: NEXT,
  name: 'test: an outbox with an engine-specific key',
  statements: [
    {
      sqlite: 'CREATE TABLE t_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)',
      postgres: 'CREATE TABLE t_outbox (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)',
    },
    'CREATE INDEX t_outbox_body ON t_outbox (body)',
  ],
};

for (const c of cases) {
  describe(`store on ${c.name}`, { skip: c.skip }, () => {
    before(() => c.setup());
    after(() => c.teardown());

    test('opens a fresh store at the latest schema; migrations run once across reopens', async () => {
      const t = await c.fresh();
      const s1 = await openStore(t);
      assert.equal(s1.engine, c.name === 'embedded' ? 'sqlite' : 'postgres');
      assert.equal(s1.schemaVersion, MIGRATIONS.length);
      await s1.recordTaskDone(SID, 'uts', 'set-hostname', 1_700_000_000_000);
      await s1.close();
      const q = 'SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version';
      const first = await rawQuery(t, q);
      assert.equal(first.length, MIGRATIONS.length);
      for (let i = 0; i < 3; i++) {
        const s = await openStore(t);
        assert.equal(s.schemaVersion, MIGRATIONS.length);
        assert.equal((await s.progress(SID)).length, 1);
        await s.close();
      }
      assert.deepEqual(await rawQuery(t, q), first);

      // The next migration (with a statement per dialect) is applied once, on the next open.
      const list = [...MIGRATIONS, EXTRA];
      for (let i = 0; i < 2; i++) {
        const s = await openStoreWith(t, {}, list);
        assert.equal(s.schemaVersion, NEXT);
        await s.close();
      }
      const rows = await rawQuery(t, q);
      assert.deepEqual(
        rows.map((r) => Number(r.version)),
        Array.from({ length: NEXT }, (_, i) => i + 1),
      );
      await rawQuery(t, "INSERT INTO t_outbox (body) VALUES ('x')");
      // An agent that does not know the newest version refuses the newer database, naming it.
      const err = await rejects(openStore(t), 'migrate', new RegExp(`schema version ${NEXT} .*newer than this agent knows \\(${MIGRATIONS.length}\\)`));
      assert.ok(err.message.includes(err.where) && err.where.length > 0);
    });

    test('a migration that fails is rolled back whole, and the store can still be opened', async () => {
      const t = await c.fresh();
      const bad: Migration = { version: NEXT, name: 'test: broken', statements: ['CREATE TABLE t_half (a TEXT)', 'CREATE TABLE nonsense ('] };
      await rejects(
        openStoreWith(t, {}, [...MIGRATIONS, bad]),
        'migrate',
        new RegExp(`migration ${NEXT} \\(test: broken\\), statement 2: .*(syntax error|incomplete input)`),
      );
      const tables =
        'dir' in t
          ? await rawQuery(t, "SELECT name FROM sqlite_schema WHERE name = 't_half'")
          : await rawQuery(t, "SELECT tablename AS name FROM pg_tables WHERE tablename = 't_half'");
      assert.equal(tables.length, 0, 'the first statement of the failed migration was rolled back');
      assert.equal((await rawQuery(t, 'SELECT version FROM schema_migrations')).length, MIGRATIONS.length);
      const s = await openStore(t);
      assert.equal(s.schemaVersion, MIGRATIONS.length);
      await s.close();
    });

    test('a shipped migration that was edited is refused', async () => {
      const t = await c.fresh();
      await (await openStore(t)).close();
      await rawQuery(t, "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1");
      await rejects(openStore(t), 'migrate', /migration 1 .* recorded with checksum edited.*edited/);
    });

    test('task progress: the first time is kept, per session, oldest first', async () => {
      const s = await openStore(await c.fresh());
      try {
        const t0 = new Date('2026-01-02T03:04:05.678Z');
        assert.deepEqual(await s.recordTaskDone(SID, 'pid', 'echo-pid', t0), { doneAt: t0, first: true });
        assert.deepEqual(await s.recordTaskDone(SID, 'pid', 'echo-pid', t0.getTime() + 5000), { doneAt: t0, first: false });
        await s.recordTaskDone(SID, 'pid', 'mount-proc', t0.getTime() + 1000);
        await s.recordTaskDone(SID, 'uts', 'set-hostname', t0.getTime() - 1000);
        const other = 'o\'ther"session;--';
        await s.recordTaskDone(other, 'pid', 'echo-pid', t0.getTime());
        assert.deepEqual(await s.progress(SID), [
          { lesson: 'uts', task: 'set-hostname', doneAt: new Date(t0.getTime() - 1000) },
          { lesson: 'pid', task: 'echo-pid', doneAt: t0 },
          { lesson: 'pid', task: 'mount-proc', doneAt: new Date(t0.getTime() + 1000) },
        ]);
        // Quotes in an opaque session id are data, bound as a parameter.
        assert.deepEqual(await s.progress(other), [{ lesson: 'pid', task: 'echo-pid', doneAt: t0 }]);
        assert.deepEqual(await s.progress('never-seen'), []);
        const now = await s.recordTaskDone(SID, 'net', 'veth-up');
        assert.ok(Math.abs(now.doneAt.getTime() - Date.now()) < 5000);
        await s.ping();
      } finally {
        await s.close();
      }
    });

    test("several agents' labs: one row per lab, a session's newest, an agent's refresh, a forged row refused", async () => {
      const s = await openStore(await c.fresh());
      try {
        const row = (lab: string, agent: string, createdAt: number, session = SID) => ({
          session,
          lab,
          lesson: 'uts',
          agent,
          connected: true,
          activeAt: createdAt + 10,
          createdAt,
          closesAt: createdAt + 3_600_000,
          panes: [
            { name: 'host', running: true },
            { name: 'container', running: false },
          ],
        });
        const t0 = Date.now() - 5000;
        await s.setSessionLab(row('laba00000001', 'host1', t0));
        await s.setSessionLab(row('labb00000002', 'host2', t0 + 1000));
        await s.setSessionLab(row('labc00000003', 'host2', t0 + 2000, 'another-session-id'));
        // Written again (a change of presence): the same row, not a second one.
        await s.setSessionLab({ ...row('laba00000001', 'host1', t0), connected: false });
        const all = await s.clusterLabs(t0 - 60_000);
        assert.deepEqual(
          all.map((r) => [r.lab, r.agent, r.session === SID]),
          [
            ['laba00000001', 'host1', true],
            ['labb00000002', 'host2', true],
            ['labc00000003', 'host2', false],
          ],
        );
        assert.deepEqual(all[0], { ...row('laba00000001', 'host1', t0), connected: false });
        // A session's newest lab, whichever agent holds it.
        assert.deepEqual(
          (await s.sessionLabs([SID], t0 - 60_000)).map((r) => r.lab),
          ['labb00000002'],
        );
        // Rows not written again since `since` are an agent's that is gone.
        assert.deepEqual(await s.clusterLabs(Date.now() + 60_000), []);
        // host2 still has only labb: its other row goes; host1's stays.
        await s.keepAgentLabs('host2', ['labb00000002']);
        assert.deepEqual(
          (await s.clusterLabs(t0 - 60_000)).map((r) => r.lab),
          ['laba00000001', 'labb00000002'],
        );
        await s.clearSessionLab('laba00000001');
        assert.deepEqual(
          (await s.clusterLabs(t0 - 60_000)).map((r) => r.lab),
          ['labb00000002'],
        );
        // A forged row is refused before any SQL runs, and nothing is written.
        for (const bad of [
          { ...row('labd00000004', 'host1', t0), panes: [{ name: 'Host; DROP', running: true }] },
          { ...row('labd00000004', 'host1', t0), agent: 'Host_1' },
          { ...row('labd00000004', 'host1', t0), closesAt: 'soon' },
          { ...row('labd00000004', 'host1', t0), panes: Array.from({ length: 17 }, () => ({ name: 'p', running: true })) },
        ]) {
          await rejects(s.setSessionLab(bad as never), 'invalid', /^setSessionLab: (panes|agent|closesAt)/);
        }
        assert.deepEqual(
          (await s.clusterLabs(t0 - 60_000)).map((r) => r.lab),
          ['labb00000002'],
        );
      } finally {
        await s.close();
      }
    });

    test('secrets: set, get, replace, and ensure keeps the first value', async () => {
      const s = await openStore(await c.fresh());
      try {
        assert.equal(await s.getSecret('session-key'), undefined);
        await s.setSecret('session-key', 'one');
        assert.equal(await s.getSecret('session-key'), 'one');
        await s.setSecret('session-key', 'two');
        assert.equal(await s.getSecret('session-key'), 'two');
        assert.equal(await s.ensureSecret('launch-key', () => 'first'), 'first');
        assert.equal(await s.ensureSecret('launch-key', () => 'second'), 'first');
        await rejects(
          s.ensureSecret('other-key', () => ''),
          'invalid',
          /ensureSecret: value: must not be empty/,
        );
      } finally {
        await s.close();
      }
    });

    test('forged, over-long and mistyped input is refused with a clear error, and nothing is written', async () => {
      const s = await openStore(await c.fresh());
      try {
        const bad: [() => Promise<unknown>, RegExp][] = [
          [() => s.recordTaskDone('a\0b', 'pid', 'echo-pid'), /^recordTaskDone: session: printable ASCII without spaces$/],
          [() => s.recordTaskDone('x'.repeat(129), 'pid', 'echo-pid'), /^recordTaskDone: session: at most 128 characters$/],
          [() => s.recordTaskDone('sessión', 'pid', 'echo-pid'), /session: printable ASCII/],
          [() => s.recordTaskDone('two words', 'pid', 'echo-pid'), /session: printable ASCII/],
          [() => s.recordTaskDone('', 'pid', 'echo-pid'), /session: must not be empty/],
          [() => s.recordTaskDone(42 as unknown as string, 'pid', 'echo-pid'), /session: expected a string/],
          [
            () => s.recordTaskDone(SID, "pid'; DROP TABLE task_progress; --", 'echo-pid'),
            /^recordTaskDone: lesson: a lesson id is a lowercase word with dashes$/,
          ],
          [() => s.recordTaskDone(SID, 'pid', 't'.repeat(65)), /task: at most 64 characters/],
          [() => s.recordTaskDone(SID, 'pid', 'echo-pid', 'yesterday' as unknown as number), /at: expected a Date or milliseconds/],
          [() => s.recordTaskDone(SID, 'pid', 'echo-pid', Number.NaN), /at: /],
          [() => s.recordTaskDone(SID, 'pid', 'echo-pid', new Date('not a date')), /at: /],
          [() => s.recordTaskDone(SID, 'pid', 'echo-pid', 1.5), /at: whole milliseconds/],
          [() => s.recordTaskDone(SID, 'pid', 'echo-pid', 1e300), /at: after the year 9999/],
          [() => s.progress('x'.repeat(10_000)), /^progress: session: at most 128 characters$/],
          [() => s.setSecret('Session Key', 'v'), /setSecret: name: lowercase letters/],
          [() => s.setSecret('session-key', 'v'.repeat(16385)), /setSecret: value: at most 16384 characters/],
          [() => s.setSecret('session-key', 'a\0b'), /setSecret: value: no NUL characters/],
          [() => s.getSecret('../etc/shadow'), /getSecret: name: lowercase letters/],
        ];
        for (const [call, re] of bad) {
          const err = await rejects(call(), 'invalid', re);
          assert.equal(err.where, '');
        }
        assert.deepEqual(await s.progress(SID), []);
        assert.equal(await s.getSecret('session-key'), undefined);
        await rejects(openStore({} as StoreTarget), 'invalid', /expected \{ dir/);
        await rejects(openStore({ dir: '/a', url: 'postgres://b' } as unknown as StoreTarget), 'invalid', /expected \{ dir/);
      } finally {
        await s.close();
      }
    });

    test('progress written by a process that is then killed with SIGKILL survives', async () => {
      const t = await c.fresh();
      for (let i = 0; i < 3; i++) {
        const child = startChild(['write', JSON.stringify(t), 'killed-session', `task-${i}`], 'written');
        await child.ready;
        child.p.kill('SIGKILL');
        await child.exited;
      }
      // The embedded store was left with a dead owner and a stale lock: a new opener takes over.
      const s = await openStore(t);
      try {
        assert.deepEqual(
          (await s.progress('killed-session')).map((r) => r.task),
          ['task-0', 'task-1', 'task-2'],
        );
      } finally {
        await s.close();
      }
    });

    test('a closed store refuses every call with code "closed"', async () => {
      const s = await openStore(await c.fresh());
      await s.close();
      await s.close();
      await rejects(s.recordTaskDone(SID, 'pid', 'echo-pid'), 'closed', /recordTaskDone: the store at .* is closed/);
      await rejects(s.progress(SID), 'closed', /closed/);
      await rejects(s.ping(), 'closed', /closed/);
    });
  });
}

describe('store on embedded: the directory', () => {
  after(() => removeDirs());

  test('is created root-only, and so are the database files', async () => {
    const dir = freshDir();
    const s = await openStore({ dir });
    await s.recordTaskDone(SID, 'pid', 'echo-pid');
    assert.equal(s.where, dbPath(dir));
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(dirname(dbPath(dir))).mode & 0o777, 0o700);
    assert.equal(statSync(dbPath(dir)).mode & 0o777, 0o600);
    await s.close();
    assert.equal(existsSync(join(dirname(dbPath(dir)), 'owner')), false, 'close gives up ownership');
  });

  test('an existing store directory that others can read is made root-only', async () => {
    const dir = freshDir();
    mkdirSync(join(dir, 'store'), { recursive: true, mode: 0o755 });
    chmodSync(join(dir, 'store'), 0o755);
    chmodSync(dir, 0o755);
    await (await openStore({ dir })).close();
    assert.equal(statSync(join(dir, 'store')).mode & 0o777, 0o700);
    assert.equal(statSync(dir).mode & 0o777, 0o755, 'the state directory itself is the caller’s');
  });

  test('a store open in a live process is refused with its pid; once it is killed, taken over', async () => {
    const dir = freshDir();
    const child = startChild(['hold', JSON.stringify({ dir })], 'open');
    await child.ready;
    try {
      await rejects(openStore({ dir }), 'in-use', new RegExp(`already open in process ${child.p.pid}`));
    } finally {
      child.p.kill('SIGKILL');
      await child.exited;
    }
    const s = await openStore({ dir });
    await s.recordTaskDone(SID, 'pid', 'echo-pid');
    await s.close();
  });

  test('an owner file left by a dead process, by an earlier process with this pid, or garbled, is taken over', async () => {
    const dir = freshDir();
    await (await openStore({ dir })).close();
    const owner = join(dirname(dbPath(dir)), 'owner');
    for (const text of [`${process.pid} 1\n`, '2147483000 12345\n', 'garbage']) {
      writeFileSync(owner, text);
      mkdirSync(`${dbPath(dir)}.lock`, { recursive: true }); // the lock a killed process leaves
      const s = await openStore({ dir });
      await s.recordTaskDone(SID, 'pid', 'echo-pid');
      await s.close();
    }
  });

  test('opening twice in one process is refused', async () => {
    const dir = freshDir();
    const s = await openStore({ dir });
    try {
      await rejects(openStore({ dir }), 'in-use', /already open in this process/);
    } finally {
      await s.close();
    }
  });

  test('a full disk turns writes into "unavailable" errors, and the store recovers when there is room', async (t) => {
    if (!IS_ROOT) {
      if (IN_CI) throw new Error('this test mounts a tmpfs: it needs root, and CI=true forbids skipping it');
      t.skip('needs root (mounts a small tmpfs)');
      return;
    }
    const mnt = mkdtempSync(join(tmpdir(), 'nslab-store-full-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', mnt]);
    try {
      const s = await openStore({ dir: join(mnt, 'state') });
      try {
        await s.recordTaskDone(SID, 'pid', 'before');
        assert.throws(() => writeFileSync(join(mnt, 'filler'), Buffer.alloc(2 << 20)), /ENOSPC/);
        for (let i = 0; i < 50; i++) {
          await rejects(s.recordTaskDone(SID, 'pid', `during-${i}`), 'unavailable', /^recordTaskDone: the store at .*nslab\.sqlite is unavailable: /);
        }
        rmSync(join(mnt, 'filler'));
        await s.recordTaskDone(SID, 'pid', 'after');
        assert.deepEqual(
          (await s.progress(SID)).map((r) => r.task),
          ['before', 'after'],
        );
      } finally {
        await s.close();
      }
    } finally {
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  });

  test('a store that cannot be opened fails with its path and the reason', async () => {
    await rejects(openStore({ dir: 'relative/state' }), 'open', /store directory relative\/state: must be an absolute path/);

    const file = freshDir();
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, 'not a directory');
    const e1 = await rejects(openStore({ dir: file }), 'open', /cannot create the state directory/);
    assert.ok(e1.message.includes(file));

    const dir = freshDir();
    mkdirSync(join(dir, 'store'), { recursive: true });
    writeFileSync(dbPath(dir), 'this is no database, just text that is long enough to have a header '.repeat(20));
    const e2 = await rejects(openStore({ dir }), 'open', /cannot open the database: .*not a database/);
    assert.ok(e2.message.startsWith(`store at ${dbPath(dir)}:`), e2.message);
    assert.equal(existsSync(join(dir, 'store', 'owner')), false, 'a failed open gives up ownership');
  });
});

describe('store on postgres: faults', { skip: pgSkip() }, () => {
  let pgs: PgServer;
  before(async () => {
    pgs = new PgServer();
    await pgs.init();
  });
  after(async () => {
    await pgs?.destroy();
  });

  test('a bad password, a closed port or a wrong URL fail with the URL (password hidden) and the reason', async () => {
    const url = (await pgs.createDatabase()).replace(encodeURIComponent(pgs.password), 'wrong-password-123');
    const e1 = await rejects(openStore({ url }), 'open', /cannot connect: password authentication failed for user "nslab"/);
    assert.ok(!e1.message.includes('wrong-password-123'), e1.message);
    assert.ok(e1.message.includes(`postgres://nslab:***@127.0.0.1:${pgs.port}/`), e1.message);

    const free = await new Promise<number>((r) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => r(p));
      });
    });
    const e2 = await rejects(openStore({ url: `postgresql://u:sekret-pw@127.0.0.1:${free}/x` }), 'open', /cannot connect: .*ECONNREFUSED/);
    assert.ok(!e2.message.includes('sekret-pw'));

    await rejects(openStore({ url: 'mysql://u:sekret-pw@127.0.0.1/x' }), 'open', /^store at mysql:\/\/u:\*\*\*@127\.0\.0\.1\/x: not a PostgreSQL URL/);
    assert.equal(redactUrl('postgres://a:b%40c@h:5/d?sslpassword=zz&application_name=n'), 'postgres://a:***@h:5/d?sslpassword=***&application_name=n');
    assert.equal(redactUrl('::nonsense'), '(an unparsable database URL)');
  });

  test('agents starting at once on a fresh database migrate it once and agree on secrets', async () => {
    const url = await pgs.createDatabase();
    const stores = await Promise.all([openStore({ url }), openStore({ url }), openStore({ url })]);
    try {
      assert.equal((await rawQuery({ url }, 'SELECT version FROM schema_migrations')).length, MIGRATIONS.length);
      const keys = await Promise.all(stores.map((s, i) => s.ensureSecret('session-key', () => `key-${i}`)));
      assert.equal(new Set(keys).size, 1);
      await stores[0]!.recordTaskDone(SID, 'pid', 'echo-pid');
      assert.equal((await stores[2]!.progress(SID)).length, 1, 'one store, seen by every agent');
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('the server going away turns calls into "unavailable" errors, and the store recovers when it is back', async () => {
    const url = await pgs.createDatabase();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    process.on('uncaughtException', onUnhandled);
    const background: StoreError[] = [];
    let s: Store | undefined;
    try {
      s = await openStore({ url }, { onBackgroundError: (e) => background.push(e), pool: { connectTimeoutMs: 2000 } });
      await s.recordTaskDone(SID, 'pid', 'before');
      await Promise.all([s.progress(SID), s.progress(SID), s.ping()]); // several pooled connections, now idle

      await pgs.stop();
      for (const call of [() => s!.recordTaskDone(SID, 'pid', 'during'), () => s!.progress(SID), () => s!.ping(), () => s!.getSecret('k')]) {
        const err = await rejects(call(), 'unavailable', /the store at postgres:\/\/nslab:\*\*\*@127\.0\.0\.1:\d+\/\w+ is unavailable: /);
        assert.ok(!err.message.includes(pgs.password));
      }
      await new Promise((r) => setTimeout(r, 200));
      for (const e of background) assert.equal(e.code, 'unavailable');

      await pgs.start();
      await eventually(() => s!.recordTaskDone(SID, 'pid', 'after'));
      assert.deepEqual(
        (await s.progress(SID)).map((r) => r.task),
        ['before', 'after'],
      );
      assert.deepEqual(unhandled, [], 'no unhandled rejection or uncaught exception');
    } finally {
      process.off('unhandledRejection', onUnhandled);
      process.off('uncaughtException', onUnhandled);
      await s?.close();
    }
  });
});

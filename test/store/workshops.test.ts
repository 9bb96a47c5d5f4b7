// Workshops in the durable store (migration 2): workshops, seats and help requests, against both
// engines: the embedded one (a temporary directory) and a real PostgreSQL server the test starts
// itself. Under CI=true the PostgreSQL half must run (pgSkip throws there).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { openStore, type Store, type StoreTarget, type WorkshopInput } from '../../apps/agent/src/store/index.ts';
import { MIGRATIONS } from '../../apps/agent/src/store/migrations.ts';
import { engineCases, rawQuery, rejects } from './engines.ts';

const T0 = Date.parse('2026-03-01T09:00:00.000Z');
const hash = (s: string) => createHash('sha256').update(s).digest('hex');
const SID = (n: number) => `Zm9vYmFyYmF6cXV4${String(n).padStart(4, '0')}`; // shaped like the agent's session ids

function workshop(over: Partial<WorkshopInput> = {}): WorkshopInput {
  return {
    id: 'ws0000001',
    title: 'Namespaces, day one',
    lessons: ['pid', 'uts', 'net'],
    seats: 3,
    code: 'ACDE3479',
    instructorKeyHash: hash('key-1'),
    opensAt: T0,
    closesAt: new Date(T0 + 8 * 3600_000),
    createdAt: T0 - 60_000,
    ...over,
  };
}

/** Rows in a table (raw SQL; an embedded store must be closed). */
async function count(t: StoreTarget, table: string): Promise<number> {
  const rows = await rawQuery(t, `SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]?.n);
}

const cases = engineCases();

for (const c of cases) {
  describe(`workshops in the store on ${c.name}`, { skip: c.skip }, () => {
    before(() => c.setup());
    after(() => c.teardown());

    /** A fresh store, closed after `fn` whatever happens. */
    async function withStore(fn: (s: Store, t: StoreTarget) => Promise<void>): Promise<void> {
      const t = await c.fresh();
      const s = await openStore(t);
      try {
        await fn(s, t);
      } finally {
        await s.close();
      }
    }

    test('migration 2 makes the tables', async () => {
      const t = await c.fresh();
      await (await openStore(t)).close();
      const rows = await rawQuery(t, 'SELECT version, name FROM schema_migrations ORDER BY version');
      assert.deepEqual(
        rows.slice(0, 2).map((r) => [Number(r.version), r.name]),
        [
          [1, 'task progress and agent secrets'],
          [2, 'workshops, seats and help requests'],
        ],
      );
      assert.equal(rows.length, MIGRATIONS.length);
      for (const table of ['workshop', 'workshop_seat', 'help_request']) assert.equal(await count(t, table), 0);
    });

    test('create, get, by code and list (newest first); a taken code or id is a conflict', async () => {
      await withStore(async (s) => {
        const w1 = await s.createWorkshop(workshop());
        assert.deepEqual(w1, {
          id: 'ws0000001',
          title: 'Namespaces, day one',
          lessons: ['pid', 'uts', 'net'],
          seats: 3,
          code: 'ACDE3479',
          instructorKeyHash: hash('key-1'),
          opensAt: new Date(T0),
          closesAt: new Date(T0 + 8 * 3600_000),
          createdAt: new Date(T0 - 60_000),
          closedAt: null,
          broadcast: null,
        });
        assert.deepEqual(await s.getWorkshop('ws0000001'), w1);
        assert.deepEqual(await s.workshopByCode('ACDE3479'), w1);
        assert.equal(await s.getWorkshop('ws0000009'), undefined);
        assert.equal(await s.workshopByCode('ACDE0000'), undefined);

        // No times: none, and created now.
        const before = Date.now();
        const w2 = await s.createWorkshop({ id: 'ws0000002', title: 'Day two', lessons: ['net'], seats: 500, code: 'QWER', instructorKeyHash: hash('k2') });
        assert.equal(w2.opensAt, null);
        assert.equal(w2.closesAt, null);
        assert.ok(w2.createdAt.getTime() >= before && w2.createdAt.getTime() <= Date.now());
        const w3 = await s.createWorkshop(workshop({ id: 'ws0000003', code: 'ZZZZ', createdAt: T0 - 120_000, opensAt: null, closesAt: undefined }));
        assert.deepEqual(
          (await s.listWorkshops()).map((w) => w.id),
          ['ws0000002', 'ws0000001', 'ws0000003'],
        );
        assert.deepEqual(await s.getWorkshop('ws0000003'), w3);

        await rejects(s.createWorkshop(workshop({ id: 'ws0000004' })), 'conflict', /^createWorkshop: another workshop has this join code$/);
        await rejects(s.createWorkshop(workshop({ code: 'NEWCODE' })), 'conflict', /^createWorkshop: a workshop with id ws0000001 already exists$/);
        assert.equal((await s.listWorkshops()).length, 3, 'a conflict writes nothing');
        assert.equal(await s.workshopByCode('NEWCODE'), undefined);
        assert.deepEqual(await s.getWorkshop('ws0000001'), w1);
      });
    });

    test('takeSeat: one seat per session (its name updated), "full" past the seats, "unknown" workshop', async () => {
      await withStore(async (s) => {
        await s.createWorkshop(workshop({ seats: 2 }));
        const a = await s.takeSeat('ws0000001', SID(1), 'Ada', 'seat000001', T0 + 1000);
        assert.deepEqual(a, {
          seat: { workshopId: 'ws0000001', seatId: 'seat000001', sessionId: SID(1), name: 'Ada', joinedAt: new Date(T0 + 1000) },
          fresh: true,
        });
        const again = await s.takeSeat('ws0000001', SID(1), 'Ada L.', 'seat000009', T0 + 5000);
        assert.deepEqual(again, { seat: { ...a.seat, name: 'Ada L.' }, fresh: false }, 'the same seat, with the new name');
        const b = await s.takeSeat('ws0000001', SID(2), 'Grace', 'seat000002', T0 + 2000);
        assert.ok(typeof b === 'object' && b.fresh);
        assert.equal(await s.takeSeat('ws0000001', SID(3), 'Linus', 'seat000003', T0 + 3000), 'full');
        // A session that has a seat gets it back even when the workshop is full.
        assert.deepEqual(await s.takeSeat('ws0000001', SID(2), 'Grace', 'seat000004'), { seat: b.seat, fresh: false });
        assert.equal(await s.takeSeat('ws0000009', SID(1), 'Ada', 'seat000001'), 'unknown');

        assert.deepEqual(await s.seats('ws0000001'), [{ ...a.seat, name: 'Ada L.' }, b.seat]);
        assert.deepEqual(await s.seats('ws0000009'), []);

        // A session in two workshops: its seats, newest first. Seat ids are per workshop.
        await s.createWorkshop(workshop({ id: 'ws0000002', code: 'SECOND' }));
        const a2 = await s.takeSeat('ws0000002', SID(1), 'Ada', 'seat000001', T0 + 9000);
        assert.ok(typeof a2 === 'object' && a2.fresh);
        assert.deepEqual(await s.seatsOfSession(SID(1)), [a2.seat, { ...a.seat, name: 'Ada L.' }]);
        assert.deepEqual(await s.seatsOfSession(SID(3)), []);

        // Two sessions asking for one seat id: the second is a conflict, and takes nothing.
        await rejects(s.takeSeat('ws0000002', SID(4), 'Bob', 'seat000001'), 'conflict', /takeSeat: workshop ws0000002 has a seat with id seat000001 already/);
        assert.equal((await s.seats('ws0000002')).length, 1);
      });
    });

    test('30 concurrent joins of a 10-seat workshop take exactly 10 seats, and every call is answered', async () => {
      await withStore(async (s, t) => {
        await s.createWorkshop(workshop({ seats: 10 }));
        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) => s.takeSeat('ws0000001', SID(i), `Learner ${i}`, `seat${String(i).padStart(6, '0')}`)),
        );
        const fresh = results.filter((r) => typeof r === 'object');
        assert.equal(fresh.length, 10);
        assert.ok(fresh.every((r) => r.fresh));
        assert.equal(results.filter((r) => r === 'full').length, 20);
        assert.equal(new Set(fresh.map((r) => r.seat.sessionId)).size, 10);
        assert.deepEqual((await s.seats('ws0000001')).map((x) => x.seatId).sort(), fresh.map((r) => r.seat.seatId).sort());

        // One session joining many times at once (several tabs): one seat, the rest given it back.
        await s.createWorkshop(workshop({ id: 'ws0000002', code: 'SECOND', seats: 10 }));
        const same = await Promise.all(Array.from({ length: 12 }, (_, i) => s.takeSeat('ws0000002', SID(99), 'Tabs', `tab${String(i).padStart(6, '0')}`)));
        assert.ok(same.every((r) => typeof r === 'object'));
        assert.equal(same.filter((r) => typeof r === 'object' && r.fresh).length, 1);
        assert.equal(new Set(same.map((r) => typeof r === 'object' && r.seat.seatId)).size, 1);
        await s.close();
        const rows = await rawQuery(t, 'SELECT workshop_id, count(*) AS n FROM workshop_seat GROUP BY workshop_id ORDER BY workshop_id');
        assert.deepEqual(
          rows.map((r) => [r.workshop_id, Number(r.n)]),
          [
            ['ws0000001', 10],
            ['ws0000002', 1],
          ],
        );
      });
    });

    test('close once; replace the key hash; set and clear the broadcast', async () => {
      await withStore(async (s) => {
        await s.createWorkshop(workshop());
        assert.equal(await s.closeWorkshop('ws0000001', T0 + 3600_000), true);
        assert.equal(await s.closeWorkshop('ws0000001', T0 + 7200_000), false, 'already closed');
        assert.equal(await s.closeWorkshop('ws0000009'), false, 'unknown');
        assert.deepEqual((await s.getWorkshop('ws0000001'))?.closedAt, new Date(T0 + 3600_000), 'the first close is kept');

        assert.equal(await s.setInstructorKeyHash('ws0000001', hash('key-2')), true);
        assert.equal((await s.getWorkshop('ws0000001'))?.instructorKeyHash, hash('key-2'));
        assert.equal(await s.setInstructorKeyHash('ws0000009', hash('key-2')), false);

        assert.equal(await s.setBroadcast('ws0000001', 'Break until 10:30 — ☕', T0 + 100), true);
        assert.deepEqual((await s.getWorkshop('ws0000001'))?.broadcast, { text: 'Break until 10:30 — ☕', at: new Date(T0 + 100) });
        assert.equal(await s.setBroadcast('ws0000001', 'x'.repeat(500), T0 + 200), true);
        assert.deepEqual((await s.workshopByCode('ACDE3479'))?.broadcast, { text: 'x'.repeat(500), at: new Date(T0 + 200) });
        assert.equal(await s.setBroadcast('ws0000001', null), true);
        assert.equal((await s.getWorkshop('ws0000001'))?.broadcast, null);
        await s.setBroadcast('ws0000001', 'again');
        assert.equal(await s.setBroadcast('ws0000001', ''), true);
        assert.equal((await s.getWorkshop('ws0000001'))?.broadcast, null);
        assert.equal(await s.setBroadcast('ws0000009', 'hello'), false);
      });
    });

    test('help requests: ask, answer once, the open ones oldest first, per workshop', async () => {
      await withStore(async (s) => {
        await s.createWorkshop(workshop());
        await s.createWorkshop(workshop({ id: 'ws0000002', code: 'SECOND' }));
        const h2 = await s.askHelp({ id: 'help000002', workshopId: 'ws0000001', seatId: 'seat000002', text: 'my veth is down', at: T0 + 2000 });
        assert.deepEqual(h2, {
          id: 'help000002',
          workshopId: 'ws0000001',
          seatId: 'seat000002',
          text: 'my veth is down',
          askedAt: new Date(T0 + 2000),
          answeredAt: null,
        });
        const h1 = await s.askHelp({ id: 'help000001', workshopId: 'ws0000001', seatId: 'seat000001', text: '', at: new Date(T0 + 1000) });
        const h3 = await s.askHelp({ id: 'help000003', workshopId: 'ws0000001', seatId: 'seat000001', text: 'x'.repeat(280), at: T0 + 3000 });
        const other = await s.askHelp({ id: 'help000004', workshopId: 'ws0000002', seatId: 'seat000001', text: 'other room' });
        assert.ok(Math.abs(other.askedAt.getTime() - Date.now()) < 5000);
        assert.deepEqual(await s.openHelp('ws0000001'), [h1, h2, h3]);

        assert.equal(await s.answerHelp('ws0000002', 'help000002'), false, 'not in that workshop');
        assert.equal(await s.answerHelp('ws0000001', 'help000002', T0 + 4000), true);
        assert.equal(await s.answerHelp('ws0000001', 'help000002', T0 + 5000), false, 'already answered');
        assert.equal(await s.answerHelp('ws0000001', 'help000009'), false, 'unknown');
        assert.deepEqual(await s.openHelp('ws0000001'), [h1, h3]);
        assert.deepEqual(await s.openHelp('ws0000002'), [other]);
        assert.deepEqual(await s.openHelp('ws0000009'), []);

        await rejects(s.askHelp({ ...h1, workshopId: 'ws0000002', text: 'again' }), 'conflict', /askHelp: a help request with id help000001 already exists/);
        assert.deepEqual(await s.openHelp('ws0000002'), [other]);
      });
    });

    test('progressOf: the tasks of the given sessions in the given lessons, oldest first', async () => {
      await withStore(async (s) => {
        await s.recordTaskDone(SID(1), 'pid', 'echo-pid', T0 + 3000);
        await s.recordTaskDone(SID(1), 'uts', 'set-hostname', T0 + 1000);
        await s.recordTaskDone(SID(1), 'cgroup', 'limit-memory', T0 + 500); // not a workshop lesson
        await s.recordTaskDone(SID(2), 'pid', 'mount-proc', T0 + 2000);
        await s.recordTaskDone(SID(3), 'pid', 'echo-pid', T0 + 100); // not in the room
        assert.deepEqual(await s.progressOf([SID(1), SID(2), SID(1), SID(7)], ['pid', 'uts', 'net']), [
          { session: SID(1), lesson: 'uts', task: 'set-hostname', doneAt: new Date(T0 + 1000) },
          { session: SID(2), lesson: 'pid', task: 'mount-proc', doneAt: new Date(T0 + 2000) },
          { session: SID(1), lesson: 'pid', task: 'echo-pid', doneAt: new Date(T0 + 3000) },
        ]);
        assert.deepEqual(await s.progressOf([SID(2)], ['uts']), []);
        assert.deepEqual(await s.progressOf([], ['pid']), []);
        assert.deepEqual(await s.progressOf([SID(1)], []), []);
        const many = Array.from({ length: 1000 }, (_, i) => SID(i));
        assert.equal((await s.progressOf(many, ['pid'])).length, 3);
      });
    });

    test('forged, over-long and mistyped input is refused with "invalid", and nothing is written', async () => {
      await withStore(async (s, t) => {
        await s.createWorkshop(workshop());
        const ok = workshop({ id: 'ws0000002', code: 'SECOND' });
        const bad: [() => Promise<unknown>, RegExp][] = [
          [() => s.createWorkshop(null as unknown as WorkshopInput), /^createWorkshop: workshop: expected an object$/],
          [() => s.createWorkshop({ ...ok, id: 'WS0000002' }), /^createWorkshop: id: 6 to 32 lowercase letters or digits$/],
          [() => s.createWorkshop({ ...ok, id: 'abc' }), /^createWorkshop: id: /],
          [() => s.createWorkshop({ ...ok, id: "x'; DROP TABLE workshop; --" }), /^createWorkshop: id: /],
          [() => s.createWorkshop({ ...ok, title: '' }), /^createWorkshop: title: must not be empty$/],
          [() => s.createWorkshop({ ...ok, title: '   ' }), /^createWorkshop: title: must not be blank$/],
          [() => s.createWorkshop({ ...ok, title: 't'.repeat(121) }), /^createWorkshop: title: at most 120 characters$/],
          [() => s.createWorkshop({ ...ok, title: 'a\0b' }), /^createWorkshop: title: one line of text, no control characters$/],
          [() => s.createWorkshop({ ...ok, title: 'two\nlines' }), /title: one line of text/],
          [() => s.createWorkshop({ ...ok, title: 'bell\u0007' }), /title: one line of text/],
          [() => s.createWorkshop({ ...ok, title: 'lone \ud800 surrogate' }), /title: one line of text/],
          [() => s.createWorkshop({ ...ok, title: 42 as unknown as string }), /^createWorkshop: title: expected a string$/],
          [() => s.createWorkshop({ ...ok, lessons: [] }), /^createWorkshop: lessons: at least one lesson$/],
          [() => s.createWorkshop({ ...ok, lessons: Array.from({ length: 21 }, (_, i) => `l${i}`) }), /^createWorkshop: lessons: at most 20 lessons$/],
          [() => s.createWorkshop({ ...ok, lessons: ['pid', 'Bad Lesson'] }), /^createWorkshop: lessons: a lesson id is a lowercase word with dashes$/],
          [() => s.createWorkshop({ ...ok, lessons: 'pid' as unknown as string[] }), /^createWorkshop: lessons: expected an array of strings$/],
          [() => s.createWorkshop({ ...ok, seats: 0 }), /^createWorkshop: seats: at least 1 seat$/],
          [() => s.createWorkshop({ ...ok, seats: 501 }), /^createWorkshop: seats: at most 500 seats$/],
          [() => s.createWorkshop({ ...ok, seats: 2.5 }), /^createWorkshop: seats: /],
          [() => s.createWorkshop({ ...ok, seats: '10' as unknown as number }), /^createWorkshop: seats: expected a whole number$/],
          [() => s.createWorkshop({ ...ok, code: 'abcd' }), /^createWorkshop: code: 4 to 16 capital letters or digits$/],
          [() => s.createWorkshop({ ...ok, code: 'ABC' }), /^createWorkshop: code: /],
          [() => s.createWorkshop({ ...ok, code: 'A'.repeat(17) }), /^createWorkshop: code: /],
          [() => s.createWorkshop({ ...ok, code: 'ABCD-EFGH' }), /^createWorkshop: code: /],
          [() => s.createWorkshop({ ...ok, instructorKeyHash: 'key-in-the-clear' }), /^createWorkshop: instructorKeyHash: 64 lowercase hex digits/],
          [() => s.createWorkshop({ ...ok, instructorKeyHash: `${hash('k')}0` }), /^createWorkshop: instructorKeyHash: /],
          [
            () => s.createWorkshop({ ...ok, opensAt: 'tomorrow' as unknown as number }),
            /^createWorkshop: opensAt: expected a Date, milliseconds since the epoch, or null$/,
          ],
          [() => s.createWorkshop({ ...ok, closesAt: 1.5 }), /^createWorkshop: closesAt: whole milliseconds$/],
          [() => s.createWorkshop({ ...ok, createdAt: new Date('nope') }), /^createWorkshop: createdAt: /],
          [() => s.getWorkshop('../etc'), /^getWorkshop: id: /],
          [() => s.workshopByCode("' OR 1=1 --"), /^workshopByCode: code: /],
          [() => s.closeWorkshop('ws0000001', -1), /^closeWorkshop: at: before the year 2000$/],
          [() => s.setInstructorKeyHash('ws0000001', 'nothex'.repeat(11)), /^setInstructorKeyHash: hash: /],
          [() => s.setBroadcast('ws0000001', 'b'.repeat(501)), /^setBroadcast: text: at most 500 characters$/],
          [() => s.setBroadcast('ws0000001', 'a\0b'), /^setBroadcast: text: one line of text/],
          [() => s.setBroadcast('nope', 'hello'), /^setBroadcast: id: /],
          [() => s.takeSeat('ws0000001', 'a\0b', 'Ada', 'seat000001'), /^takeSeat: sessionId: printable ASCII without spaces$/],
          [() => s.takeSeat('ws0000001', 'x'.repeat(129), 'Ada', 'seat000001'), /^takeSeat: sessionId: at most 128 characters$/],
          [() => s.takeSeat('ws0000001', SID(1), '', 'seat000001'), /^takeSeat: name: must not be empty$/],
          [() => s.takeSeat('ws0000001', SID(1), 'n'.repeat(41), 'seat000001'), /^takeSeat: name: at most 40 characters$/],
          [() => s.takeSeat('ws0000001', SID(1), 'Ada\u001b[31m', 'seat000001'), /^takeSeat: name: one line of text/],
          [() => s.takeSeat('ws0000001', SID(1), 'Ada', 'SEAT'), /^takeSeat: seatId: /],
          [() => s.takeSeat('WS', SID(1), 'Ada', 'seat000001'), /^takeSeat: workshopId: /],
          [() => s.takeSeat('ws0000001', SID(1), 'Ada', 'seat000001', Number.NaN), /^takeSeat: at: /],
          [() => s.seats('x'), /^seats: workshopId: /],
          [() => s.seatsOfSession(''), /^seatsOfSession: sessionId: must not be empty$/],
          [
            () => s.askHelp({ id: 'help000001', workshopId: 'ws0000001', seatId: 'seat000001', text: 'h'.repeat(281) }),
            /^askHelp: text: at most 280 characters$/,
          ],
          [() => s.askHelp({ id: 'help000001', workshopId: 'ws0000001', seatId: 'seat000001', text: 'a\0b' }), /^askHelp: text: one line of text/],
          [
            () => s.askHelp({ id: 'help000001', workshopId: 'ws0000001', seatId: 'seat000001', text: undefined as unknown as string }),
            /^askHelp: text: expected a string$/,
          ],
          [() => s.askHelp({ id: 'H', workshopId: 'ws0000001', seatId: 'seat000001', text: '' }), /^askHelp: id: /],
          [() => s.askHelp('help' as unknown as Parameters<Store['askHelp']>[0]), /^askHelp: help: expected an object$/],
          [() => s.answerHelp('ws0000001', 'help 1'), /^answerHelp: id: /],
          [() => s.openHelp(''), /^openHelp: workshopId: /],
          [() => s.progressOf(['ok', 'a\0b'], ['pid']), /^progressOf: sessions: printable ASCII without spaces$/],
          [
            () =>
              s.progressOf(
                Array.from({ length: 1001 }, (_, i) => SID(i)),
                ['pid'],
              ),
            /^progressOf: sessions: at most 1000 sessions$/,
          ],
          [() => s.progressOf([SID(1)], ['PID']), /^progressOf: lessons: a lesson id/],
          [() => s.progressOf(SID(1) as unknown as string[], ['pid']), /^progressOf: sessions: expected an array of strings$/],
        ];
        for (const [call, re] of bad) {
          const err = await rejects(call(), 'invalid', re);
          assert.equal(err.where, '');
        }
        assert.deepEqual(
          (await s.listWorkshops()).map((w) => w.id),
          ['ws0000001'],
        );
        const w = await s.getWorkshop('ws0000001');
        assert.equal(w?.closedAt, null);
        assert.equal(w?.broadcast, null);
        assert.equal(w?.instructorKeyHash, hash('key-1'));
        await s.close();
        for (const table of ['workshop_seat', 'help_request']) assert.equal(await count(t, table), 0);
      });
    });

    test('workshops, seats and help requests survive closing and reopening the store', async () => {
      const t = await c.fresh();
      const s1 = await openStore(t);
      const w = await s1.createWorkshop(workshop());
      const seat = await s1.takeSeat('ws0000001', SID(1), 'Ada', 'seat000001', T0 + 1000);
      const help = await s1.askHelp({ id: 'help000001', workshopId: 'ws0000001', seatId: 'seat000001', text: 'stuck', at: T0 + 2000 });
      await s1.setBroadcast('ws0000001', 'Welcome', T0 + 500);
      await s1.recordTaskDone(SID(1), 'pid', 'echo-pid', T0 + 3000);
      await s1.close();

      const s2 = await openStore(t); // embedded: the same directory; PostgreSQL: the same database
      try {
        assert.equal(s2.schemaVersion, MIGRATIONS.length);
        assert.deepEqual(await s2.getWorkshop('ws0000001'), { ...w, broadcast: { text: 'Welcome', at: new Date(T0 + 500) } });
        assert.deepEqual(await s2.seats('ws0000001'), [typeof seat === 'object' && seat.seat]);
        assert.deepEqual(await s2.openHelp('ws0000001'), [help]);
        assert.deepEqual(await s2.progressOf([SID(1)], w.lessons), [{ session: SID(1), lesson: 'pid', task: 'echo-pid', doneAt: new Date(T0 + 3000) }]);
        assert.equal(await s2.takeSeat('ws0000001', SID(1), 'Ada', 'seat000002').then((r) => typeof r === 'object' && r.fresh), false);
        assert.equal(await s2.closeWorkshop('ws0000001', T0 + 4000), true);
      } finally {
        await s2.close();
      }
      const s3 = await openStore(t);
      try {
        assert.deepEqual((await s3.getWorkshop('ws0000001'))?.closedAt, new Date(T0 + 4000));
        assert.equal(await s3.closeWorkshop('ws0000001'), false);
      } finally {
        await s3.close();
      }
    });

    test('a closed store refuses the workshop calls with code "closed"', async () => {
      const s = await openStore(await c.fresh());
      await s.close();
      await rejects(s.createWorkshop(workshop()), 'closed', /^createWorkshop: the store at .* is closed$/);
      await rejects(s.takeSeat('ws0000001', SID(1), 'Ada', 'seat000001'), 'closed', /^takeSeat: /);
      await rejects(s.listWorkshops(), 'closed', /^listWorkshops: /);
      await rejects(s.progressOf([SID(1)], ['pid']), 'closed', /^progressOf: /);
    });
  });
}

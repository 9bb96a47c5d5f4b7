// Workshops in the store, on both engines (embedded, and a real PostgreSQL this test starts):
// workshops by id and by code, seats that never outnumber a workshop's (however many join at
// once), help requests, broadcasts, progress by seat; bad input refused with nothing written;
// everything still there after a reopen.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, StoreError, type StoreTarget } from '../../apps/agent/src/store/index.ts';
import { PgServer, freshDir, pgSkip, rawQuery, removeDirs } from './engines.ts';

const HASH = 'a'.repeat(64);
const session = (n: number) => `session-${String(n).padStart(4, '0')}-abcdefgh`;

async function refused(p: Promise<unknown>, code: string, what: RegExp) {
  const err = await p.then(
    () => assert.fail('should be refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof StoreError, String(err));
  assert.equal(err.code, code, err.message);
  assert.match(err.message, what);
}

let server: PgServer | undefined;
const cases: Array<{ name: string; skip: false | string; setup(): Promise<void>; teardown(): Promise<void>; fresh(): Promise<StoreTarget> }> = [
  { name: 'embedded', skip: false, setup: async () => {}, teardown: async () => removeDirs(), fresh: async () => ({ dir: freshDir() }) },
  {
    name: 'postgres',
    skip: pgSkip(),
    setup: async () => {
      server = new PgServer();
      await server.init();
    },
    teardown: async () => server?.destroy(),
    fresh: async () => ({ url: await server!.createDatabase() }),
  },
];

for (const c of cases) {
  describe(`workshops in the store on ${c.name}`, { skip: c.skip }, () => {
    before(() => c.setup());
    after(() => c.teardown());

    test('a workshop by id and by code; a code or id taken is a conflict; close and broadcast', async () => {
      const t = await c.fresh();
      const s = await openStore(t);
      try {
        const w = await s.createWorkshop({ id: 'wshop00001', title: 'Tuesday', lessons: ['uts', 'pid'], seats: 2, code: 'HK4MRTXC', instructorKeyHash: HASH });
        assert.deepEqual(w.lessons, ['uts', 'pid']);
        assert.equal(w.closedAt, null);
        assert.deepEqual(await s.getWorkshop('wshop00001'), w);
        assert.deepEqual(await s.workshopByCode('HK4MRTXC'), w);
        assert.equal(await s.workshopByCode('HK4MRTXA'), undefined);
        await refused(
          s.createWorkshop({ id: 'wshop00002', title: 'x', lessons: ['uts'], seats: 2, code: 'HK4MRTXC', instructorKeyHash: HASH }),
          'conflict',
          /join code/,
        );
        await refused(
          s.createWorkshop({ id: 'wshop00001', title: 'x', lessons: ['uts'], seats: 2, code: 'CCCCCCCC', instructorKeyHash: HASH }),
          'conflict',
          /wshop00001/,
        );
        assert.equal((await s.listWorkshops()).length, 1, 'nothing written by a conflict');

        assert.equal(await s.setBroadcast(w.id, 'Ten minutes left', 1_800_000_000_000), true);
        assert.deepEqual((await s.getWorkshop(w.id))!.broadcast, { text: 'Ten minutes left', at: new Date(1_800_000_000_000) });
        assert.equal(await s.setBroadcast(w.id, ''), true);
        assert.equal((await s.getWorkshop(w.id))!.broadcast, null);
        assert.equal(await s.setBroadcast('nosuchshop', 'x'), false);
        assert.equal(await s.setInstructorKeyHash(w.id, 'b'.repeat(64)), true);
        assert.equal(await s.closeWorkshop(w.id, 1_800_000_001_000), true);
        assert.equal(await s.closeWorkshop(w.id), false, 'closed once');
        assert.deepEqual((await s.getWorkshop(w.id))!.closedAt, new Date(1_800_000_001_000));
      } finally {
        await s.close();
      }
      // Still there after a reopen.
      const again = await openStore(t);
      try {
        const w = (await again.getWorkshop('wshop00001'))!;
        assert.equal(w.instructorKeyHash, 'b'.repeat(64));
        assert.ok(w.closedAt);
      } finally {
        await again.close();
      }
    });

    test('seats: the same seat for the same session, full past the seats, and 30 joins at once take exactly 10', async () => {
      const t = await c.fresh();
      const s = await openStore(t);
      try {
        await s.createWorkshop({ id: 'wshop00010', title: 'Ten', lessons: ['uts'], seats: 10, code: 'TENSEATS', instructorKeyHash: HASH });
        const first = await s.takeSeat('wshop00010', session(1), 'Ann', 'seat000001');
        assert.ok(first !== 'full' && first !== 'unknown' && first.fresh);
        const back = await s.takeSeat('wshop00010', session(1), 'Ann B.', 'seat000099');
        assert.ok(back !== 'full' && back !== 'unknown');
        assert.equal(back.fresh, false);
        assert.equal(back.seat.seatId, 'seat000001');
        assert.equal(back.seat.name, 'Ann B.');
        assert.equal(await s.takeSeat('nosuchshop', session(1), 'Ann', 'seat000002'), 'unknown');

        const results = await Promise.all(
          Array.from({ length: 30 }, (_, i) => s.takeSeat('wshop00010', session(100 + i), `L${i}`, `seat${String(100 + i).padStart(6, '0')}`)),
        );
        const taken = results.filter((r) => r !== 'full' && r !== 'unknown');
        assert.equal(taken.length, 9, 'nine more seats, every other join answered "full"');
        assert.equal(results.filter((r) => r === 'full').length, 21);
        const seats = await s.seats('wshop00010');
        assert.equal(seats.length, 10);
        assert.equal(seats[0]!.seatId, 'seat000001', 'in the order taken');
        assert.deepEqual(
          (await s.seatsOfSession(session(1))).map((x) => x.workshopId),
          ['wshop00010'],
        );
      } finally {
        await s.close();
      }
      // What the database itself holds (read with no store open: the embedded file is exclusive).
      assert.equal(Number((await rawQuery(t, 'SELECT COUNT(*) AS n FROM workshop_seat'))[0]!.n), 10);
    });

    test('help requests oldest first until answered; progress by the seats and lessons asked', async () => {
      const s = await openStore(await c.fresh());
      try {
        await s.createWorkshop({ id: 'wshop00020', title: 'Help', lessons: ['uts'], seats: 5, code: 'HELPHELP', instructorKeyHash: HASH });
        await s.askHelp({ id: 'help00000002', workshopId: 'wshop00020', seatId: 'seat000002', text: 'second', at: 2_000 + 1_800_000_000_000 });
        await s.askHelp({ id: 'help00000001', workshopId: 'wshop00020', seatId: 'seat000001', text: '', at: 1_000 + 1_800_000_000_000 });
        assert.deepEqual(
          (await s.openHelp('wshop00020')).map((h) => [h.id, h.text]),
          [
            ['help00000001', ''],
            ['help00000002', 'second'],
          ],
        );
        await refused(s.askHelp({ id: 'help00000001', workshopId: 'wshop00020', seatId: 'seat000001', text: 'again' }), 'conflict', /help00000001/);
        assert.equal(await s.answerHelp('othershop1', 'help00000001'), false, 'not in another workshop');
        assert.equal(await s.answerHelp('wshop00020', 'help00000001'), true);
        assert.equal(await s.answerHelp('wshop00020', 'help00000001'), false, 'answered once');
        assert.deepEqual(
          (await s.openHelp('wshop00020')).map((h) => h.id),
          ['help00000002'],
        );

        await s.recordTaskDone(session(1), 'uts', 'set-hostname', 1_800_000_000_000);
        await s.recordTaskDone(session(1), 'pid', 'echo-pid', 1_800_000_000_500);
        await s.recordTaskDone(session(2), 'uts', 'set-hostname', 1_800_000_001_000);
        await s.recordTaskDone(session(3), 'uts', 'set-hostname', 1_800_000_002_000);
        const done = await s.progressOf([session(1), session(2)], ['uts']);
        assert.deepEqual(
          done.map((d) => [d.session, d.lesson, d.task]),
          [
            [session(1), 'uts', 'set-hostname'],
            [session(2), 'uts', 'set-hostname'],
          ],
        );
        assert.deepEqual(await s.progressOf([], ['uts']), []);
      } finally {
        await s.close();
      }
    });

    test('bad input is refused, naming the operation and the argument, and nothing is written', async () => {
      const s = await openStore(await c.fresh());
      try {
        const base = { id: 'wshop00030', title: 'Bad', lessons: ['uts'], seats: 5, code: 'BADBADBA', instructorKeyHash: HASH };
        for (const [change, what] of [
          [{ id: 'Robert; DROP TABLE workshop' }, /createWorkshop: id/],
          [{ title: '' }, /createWorkshop: title/],
          [{ title: 'a\u001b[31mred' }, /createWorkshop: title/],
          [{ lessons: [] }, /createWorkshop: lessons/],
          [{ lessons: ['../etc'] }, /createWorkshop: lessons/],
          [{ seats: 0 }, /createWorkshop: seats/],
          [{ seats: 501 }, /createWorkshop: seats/],
          [{ code: 'ab' }, /createWorkshop: code/],
          [{ instructorKeyHash: 'not-hex' }, /createWorkshop: instructorKeyHash/],
        ] as const) {
          await refused(s.createWorkshop({ ...base, ...change } as never), 'invalid', what);
        }
        assert.deepEqual(await s.listWorkshops(), []);
        await s.createWorkshop(base);
        await refused(s.takeSeat('wshop00030', session(1), 'x'.repeat(41), 'seat000001'), 'invalid', /takeSeat: name/);
        await refused(s.takeSeat('wshop00030', 'has space', 'Ann', 'seat000001'), 'invalid', /takeSeat: sessionId/);
        await refused(s.askHelp({ id: 'help00000001', workshopId: 'wshop00030', seatId: 'seat000001', text: 'x'.repeat(281) }), 'invalid', /askHelp: text/);
        await refused(s.setBroadcast('wshop00030', 'line\nbreak'), 'invalid', /setBroadcast: text/);
        assert.deepEqual(await s.seats('wshop00030'), []);
        assert.deepEqual(await s.openHelp('wshop00030'), []);
      } finally {
        await s.close();
      }
    });
  });
}

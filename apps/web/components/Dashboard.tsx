'use client';
// The instructor's dashboard: /<lang>/instructor/<workshop>#key=<key>. The key stays in the
// fragment (no server log sees it); the page shows it to the agent over its own connection
// and follows the room from then on (lib/room.ts).
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { formatJoinCode, type Lang } from '@nslab/shared';
import { InstructorRoom, roomCsv } from '../lib/room';
import { WORKSHOP_STRINGS } from '../lib/workshop-strings';
import { RoomGrid } from './RoomGrid';
import { HelpList } from './HelpList';
import { BroadcastBox } from './BroadcastBox';

function keyFromFragment(): string | null {
  const m = /(?:^#|&)key=([^&]+)/.exec(window.location.hash);
  return m ? decodeURIComponent(m[1]!) : null;
}

export function Dashboard({ lang, workshop }: { lang: Lang; workshop: string }) {
  const s = WORKSHOP_STRINGS[lang];
  const [room, setRoom] = useState<InstructorRoom | null>(null);
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    const r = new InstructorRoom(workshop, keyFromFragment());
    setRoom(r);
    r.start();
    const tick = setInterval(() => setNow(Date.now()), 15_000);
    return () => {
      clearInterval(tick);
      r.stop();
    };
  }, [workshop]);

  const noop = useMemo(() => ({ subscribe: () => () => {}, get: () => null }), []);
  const state = useSyncExternalStore(room?.subscribe ?? noop.subscribe, room?.getState ?? noop.get, noop.get);
  const csv = useMemo(() => (state?.room ? `data:text/csv;charset=utf-8,${encodeURIComponent(roomCsv(state.room))}` : null), [state?.room]);

  if (!room || !state) return <p className="dash">{s.connectingRoom}</p>;
  if (state.phase === 'no-key')
    return (
      <p className="dash dash-note" data-dashboard-error="no-key">
        {s.noKey}
      </p>
    );
  if (state.phase === 'forbidden')
    return (
      <p className="dash dash-note" data-dashboard-error="forbidden">
        {s.forbidden}
      </p>
    );
  const w = state.room;
  if (!w)
    return state.message ? (
      <p className="dash dash-note" role="alert" data-dashboard-error="failed">
        {s.roomFailed} {state.message}
      </p>
    ) : (
      <p className="dash">{s.connectingRoom}</p>
    );
  const joinUrl = `${window.location.origin}/${lang}/join?code=${w.code}`;

  // The learner's live view: a page that shows the key to the agent and goes on to their panes.
  const watchHref = (seat: string) => `/${lang}/instructor/${w.id}/learner/${seat}${window.location.hash}`;

  return (
    <main className="dash" data-dashboard={w.id}>
      <header className="dash-head">
        <h1>{w.title}</h1>
        <div>
          <div className="dash-off">{s.code}</div>
          <div className="dash-code" data-join-code={w.code}>
            {formatJoinCode(w.code)}
          </div>
        </div>
        <div>
          <div className="dash-off">{s.joinLink}</div>
          <a href={joinUrl} data-join-link>
            {joinUrl}
          </a>
        </div>
        <div>
          <div className="dash-off">{s.seats}</div>
          <strong data-seats>
            {w.taken}/{w.seats}
          </strong>{' '}
          · {s.state[w.state] ?? w.state}
        </div>
      </header>
      {state.message ? (
        <p className="dash-note" role="alert">
          {state.message}
        </p>
      ) : null}
      {w.state === 'closed' ? <p className="dash-note">{s.closedNote}</p> : null}
      <RoomGrid
        room={w}
        s={s}
        watchHref={watchHref}
        replayHref={(url) => `/${lang}/instructor/${w.id}/replay#src=${encodeURIComponent(url)}`}
        onAction={(seat, action) => void room.learnerLab(seat, action)}
        now={now}
      />
      <div className="dash-panels">
        <HelpList help={w.help} s={s} onAnswer={(id) => void room.answer(id)} now={now} />
        {w.state !== 'closed' ? <BroadcastBox current={w.broadcast?.text || null} s={s} onSend={(t) => room.broadcast(t)} /> : null}
        <section className="dash-panel">
          {csv ? (
            <p>
              <a href={csv} download={`${w.id}-progress.csv`} data-csv>
                {s.csv}
              </a>
            </p>
          ) : null}
          {w.state !== 'closed' ? (
            <p>
              <button type="button" className="quiet" data-extend-all onClick={() => void room.extendAll()}>
                {s.extendAll}
              </button>
            </p>
          ) : null}
          {w.state !== 'closed' && w.plan.length > 1 ? (
            <form
              className="dash-move"
              onSubmit={(e) => {
                e.preventDefault();
                const lesson = new FormData(e.currentTarget).get('lesson');
                if (typeof lesson === 'string') void room.move(lesson);
              }}
            >
              <label>
                {s.moveRoom}{' '}
                <select name="lesson" data-move-lesson>
                  {w.plan.map((p) => (
                    <option key={p.lesson} value={p.lesson}>
                      {p.title}
                    </option>
                  ))}
                </select>
              </label>{' '}
              <button type="submit" data-move-send>
                {s.moveSend}
              </button>
            </form>
          ) : null}
          {w.state !== 'closed' ? (
            <button
              type="button"
              className="quiet"
              data-workshop-close
              onClick={() => {
                if (window.confirm(s.closeConfirm)) void room.close();
              }}
            >
              {s.closeWorkshop}
            </button>
          ) : null}
        </section>
      </div>
    </main>
  );
}

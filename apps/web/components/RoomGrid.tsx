// The room as a grid: a row per learner, a cell per task of every lesson (done, with when, or
// pending), where they are and whether they are there. STABLE HOOKS: [data-learner="<name>"],
// [data-task="<lesson>/<task>"][data-status], a[data-watch].
import type { WorkshopLearner, WorkshopState } from '@nslab/shared';
import type { WorkshopStrings } from '../lib/workshop-strings';

function since(iso: string | null, now: number): string | null {
  if (!iso) return null;
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return null;
  return s < 3600 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h`;
}

/** A learner's newest recording of each pane. */
function latestPerPane(casts: WorkshopLearner['casts']): WorkshopLearner['casts'] {
  const seen = new Set<string>();
  return casts.filter((c) => !seen.has(c.pane) && seen.add(c.pane));
}

export function RoomGrid({
  room,
  s,
  watchHref,
  replayHref,
  onAction,
  now,
}: {
  room: WorkshopState;
  s: WorkshopStrings;
  watchHref: (seat: string) => string;
  replayHref: (castUrl: string) => string;
  onAction: (seat: string, action: 'reset' | 'extend' | 'close') => void;
  now: number;
}) {
  if (!room.learners.length) return <p className="dash-empty">{s.noLearners}</p>;
  return (
    <div className="dash-grid-wrap">
      <table className="dash-grid">
        <thead>
          <tr>
            <th>{s.learner}</th>
            <th>{s.where}</th>
            <th />
            <th>{s.recordings}</th>
            {room.plan.flatMap((p) =>
              p.tasks.map((t) => (
                <th key={`${p.lesson}/${t.id}`} className="task" title={`${p.title}: ${t.title}`}>
                  {p.lesson}/{t.id}
                </th>
              )),
            )}
          </tr>
        </thead>
        <tbody>
          {room.learners.map((l) => {
            const done = new Map(l.done.map((d) => [`${d.lesson}/${d.task}`, d.doneAt]));
            const idle = since(l.idleSince, now);
            return (
              <tr key={l.seat} data-learner={l.name} data-connected={l.connected ? 'yes' : 'no'}>
                <th scope="row">{l.name}</th>
                <td className={l.connected ? '' : 'dash-off'}>
                  {l.lesson ?? s.noLab} · {l.connected ? s.connected : s.notConnected}
                  {idle ? ` · ${s.idleFor} ${idle}` : ''}
                  {l.limit ? (
                    <span className="dash-limit" data-limit={l.limit}>
                      {' '}
                      · {l.limit === 'memory' ? s.limitMemory : s.limitPids}
                    </span>
                  ) : null}
                </td>
                <td>
                  {l.lab ? (
                    <span className="dash-actions">
                      <a href={watchHref(l.seat)} target="_blank" rel="noreferrer" data-watch>
                        {s.watch}
                      </a>{' '}
                      {(['reset', 'extend', 'close'] as const).map((a) => (
                        <button key={a} type="button" className="quiet" data-learner-action={a} onClick={() => onAction(l.seat, a)}>
                          {a === 'reset' ? s.reset : a === 'extend' ? s.extend : s.closeLab}
                        </button>
                      ))}
                    </span>
                  ) : null}
                </td>
                <td>
                  {latestPerPane(l.casts).map((c) => (
                    <span key={c.pane} className="dash-cast">
                      <a href={`${c.url}&download=1`} data-cast={c.pane} download>
                        {c.pane}
                      </a>{' '}
                      <a href={replayHref(c.url)} target="_blank" rel="noreferrer" data-replay-link={c.pane}>
                        ({s.replay})
                      </a>{' '}
                    </span>
                  ))}
                </td>
                {room.plan.flatMap((p) =>
                  p.tasks.map((t) => {
                    const key = `${p.lesson}/${t.id}`;
                    const at = done.get(key);
                    return (
                      <td
                        key={key}
                        data-task={key}
                        data-status={at ? 'done' : 'pending'}
                        title={`${t.title}: ${at ? `${s.done} ${new Date(at).toLocaleTimeString()}` : s.pending}`}
                      >
                        {at ? '✓' : '·'}
                      </td>
                    );
                  }),
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

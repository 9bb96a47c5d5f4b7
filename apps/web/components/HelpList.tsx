// Open help requests, oldest first, each until the instructor marks it answered. STABLE HOOK:
// [data-help] items naming the learner.
import type { HelpRequest } from '@nslab/shared';
import type { WorkshopStrings } from '../lib/workshop-strings';

/** How long ago a request was made, to the minute. */
function ago(iso: string, now: number, s: WorkshopStrings): string {
  const min = Math.max(0, Math.floor((now - Date.parse(iso)) / 60_000));
  return min < 1 ? s.justNow : s.minutesAgo.replace('{n}', String(min));
}

export function HelpList({ help, s, onAnswer, now }: { help: HelpRequest[]; s: WorkshopStrings; onAnswer: (id: string) => void; now: number }) {
  return (
    <section className="dash-panel">
      <h2>
        {s.helpTitle} ({help.length})
      </h2>
      {help.length === 0 ? (
        <p className="dash-empty">{s.noHelp}</p>
      ) : (
        <ul className="dash-help">
          {help.map((h) => (
            <li key={h.id} data-help={h.name}>
              <span>
                <strong>{h.name}</strong>
                {h.text ? `: ${h.text}` : ''} <span className="dash-off">({ago(h.askedAt, now, s)})</span>
              </span>
              <button type="button" className="quiet" data-help-answer onClick={() => onAnswer(h.id)}>
                {s.answered}
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

'use client';
// Making a workshop from a page, for the agent's operator: they type the agent's token (it is
// sent once, over this page's own connection, and kept nowhere: no page ever carries it), the
// title, the lessons in order and the seats; the page then opens the new workshop's dashboard.
// STABLE HOOK: form[data-new-workshop].
import { useState } from 'react';
import type { Lang } from '@nslab/shared';
import { errorCode, errorMessage, withConnection } from '../lib/socket';
import { WORKSHOP_STRINGS } from '../lib/workshop-strings';

export function NewWorkshop({ lang, lessons }: { lang: Lang; lessons: Array<{ id: string; title: string }> }) {
  const s = WORKSHOP_STRINGS[lang];
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  const submit = (e: React.FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget);
    const token = String(f.get('token') ?? '');
    const picked = lessons.map((l) => l.id).filter((id) => f.get(`lesson-${id}`) === 'on');
    const when = (k: string) => {
      const v = String(f.get(k) ?? '');
      return v ? new Date(v).toISOString() : undefined;
    };
    if (!picked.length) return setProblem(s.newNoLessons);
    setBusy(true);
    setProblem(null);
    const opens = when('opens');
    const closes = when('closes');
    withConnection(async (socket) => {
      await socket.request({ type: 'auth', token });
      return socket.request({
        type: 'workshop-create',
        title: String(f.get('title') ?? ''),
        lessons: picked,
        seats: Number(f.get('seats')),
        ...(opens ? { opens } : {}),
        ...(closes ? { closes } : {}),
      });
    }).then(
      (w) => window.location.assign(`/${lang}/instructor/${w.id}#key=${encodeURIComponent(w.instructorKey)}`),
      (err: unknown) => {
        // A wrong token closes the connection: say what that means.
        setProblem(errorCode(err) === 'connection' || errorCode(err) === 'unauthenticated' ? s.newRefused : errorMessage(err));
        setBusy(false);
      },
    );
  };

  return (
    <form className="join-form" data-new-workshop onSubmit={submit}>
      <label>
        <span>{s.newToken}</span>
        <input name="token" type="password" autoComplete="off" required />
      </label>
      <label>
        <span>{s.newTitle}</span>
        <input name="title" maxLength={120} required />
      </label>
      <fieldset className="new-lessons">
        <legend>{s.newLessons}</legend>
        {lessons.map((l, i) => (
          <label key={l.id}>
            <input type="checkbox" name={`lesson-${l.id}`} defaultChecked={i === 0} /> {l.title}
          </label>
        ))}
      </fieldset>
      <label>
        <span>{s.seats}</span>
        <input name="seats" type="number" min={1} max={500} defaultValue={30} required />
      </label>
      <label>
        <span>{s.newOpens}</span>
        <input name="opens" type="datetime-local" />
      </label>
      <label>
        <span>{s.newCloses}</span>
        <input name="closes" type="datetime-local" />
      </label>
      {problem ? (
        <p className="join-error" role="alert" data-new-error>
          {problem}
        </p>
      ) : null}
      <button type="submit" disabled={busy}>
        {s.newCreate}
      </button>
    </form>
  );
}

'use client';
// The join form: a workshop's code (from the link, or typed as read aloud) and a display name;
// on a seat, the workshop's first lesson. STABLE HOOKS: form[data-join], input[name=code],
// input[name=name].
import { useEffect, useState } from 'react';
import type { Lang } from '@nslab/shared';
import { join } from '../lib/room';
import { WORKSHOP_STRINGS } from '../lib/workshop-strings';

export function JoinForm({ lang }: { lang: Lang }) {
  const s = WORKSHOP_STRINGS[lang];
  const [code, setCode] = useState('');
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ code: string; message: string } | null>(null);

  useEffect(() => {
    const fromLink = new URLSearchParams(window.location.search).get('code');
    if (fromLink) setCode(fromLink);
  }, []);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    // As typed: the agent takes any case, spaces and dashes anywhere.
    const r = await join(code, name);
    if (r.ok) {
      window.location.assign(`/${lang}/lessons/${r.seat.workshop.lessons[0]}`);
      return;
    }
    setBusy(false);
    setError({ code: r.code, message: r.message });
  };

  const explain = (e: { code: string; message: string }) => {
    const text = s.joinErrors[e.code] ?? e.message;
    // "this workshop opens at <ISO time>": show the time in the reader's own zone.
    const at = e.code === 'workshop-not-open' ? /(\d{4}-\d\d-\d\dT[\d:.]+Z)/.exec(e.message)?.[1] : undefined;
    if (!at) return text;
    const time = new Date(at).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { dateStyle: 'medium', timeStyle: 'short' });
    return `${text}${lang === 'zh' ? '' : ' '}${s.opensAt.replace('{time}', time)}`;
  };

  return (
    <form className="join-form" data-join onSubmit={submit}>
      <label>
        <span>{s.joinCode}</span>
        <input
          name="code"
          value={code}
          onChange={(e) => setCode(e.target.value)}
          autoComplete="off"
          autoCapitalize="characters"
          spellCheck={false}
          maxLength={32}
          required
          placeholder="HK4M-RTXC"
        />
      </label>
      <label>
        <span>{s.joinName}</span>
        <input name="name" value={name} onChange={(e) => setName(e.target.value)} maxLength={40} required autoComplete="nickname" />
      </label>
      <p className="join-privacy">{s.joinPrivacy}</p>
      <p className="join-privacy" data-recording-notice>
        {s.recordingNotice}
      </p>
      {error && (
        <p className="join-error" role="alert" data-join-error={error.code}>
          {explain(error)}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? s.joining : s.joinButton}
      </button>
    </form>
  );
}

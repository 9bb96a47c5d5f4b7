'use client';
// The line above the lesson's panes: the connection and the lab (StatusLine), what the learner
// can do about its state (retry, reload, a new lab), sharing the lab read-only, starting over,
// and whatever the page adds (its layout buttons).
import { useEffect, useRef, useState, type ReactNode } from 'react';
import type { Lang } from '@nslab/shared';
import { STRINGS } from '../lib/i18n';
import type { LabSession, SessionState } from '../lib/session';
import { copy } from '../lib/clipboard';
import { StatusLine, connectionStatus } from './StatusLine';

/** Seconds left until `at`, ticking while there is a deadline. */
function useCountdown(at: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (at === null) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [at]);
  return at === null ? 0 : Math.max(0, Math.ceil((at - now) / 1000));
}

/** "Share read-only": mint a link to watch this lab, copy it, revoke it. */
function SharePanel({ lang, session, labId }: { lang: Lang; session: LabSession; labId: string }) {
  const s = STRINGS[lang];
  const [open, setOpen] = useState(false);
  const [link, setLink] = useState<string | null>(null);
  const [note, setNote] = useState<{ text: string; tone: 'ok' | 'bad' } | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  // A link is for one lab: a new lab needs a new link.
  // biome-ignore lint/correctness/useExhaustiveDependencies: labId is the trigger, not an input
  useEffect(() => {
    setLink(null);
    setNote(null);
  }, [labId]);

  const mint = async () => {
    setBusy(true);
    setNote(null);
    try {
      const token = await session.share();
      if (!token) throw new Error('no token');
      const url = `${location.origin}/${lang}/watch#${token}`;
      setLink(url);
      if (await copy(url)) setNote({ text: s.shareCopied, tone: 'ok' });
      setTimeout(() => input.current?.select(), 0);
    } catch (err) {
      setNote({ text: s.shareFailed((err as Error).message), tone: 'bad' });
    } finally {
      setBusy(false);
    }
  };

  const revoke = async () => {
    setBusy(true);
    try {
      await session.share(true);
      setLink(null);
      setNote({ text: s.shareRevoked, tone: 'ok' });
    } catch (err) {
      setNote({ text: s.shareFailed((err as Error).message), tone: 'bad' });
    } finally {
      setBusy(false);
    }
  };

  return (
    <span className="share">
      <button
        type="button"
        className="link-btn"
        aria-expanded={open}
        data-share-open
        onClick={() => {
          const next = !open;
          setOpen(next);
          if (next && !link) void mint();
        }}
      >
        {s.share}
      </button>
      {open ? (
        <div className="share-pop" role="dialog" aria-label={s.shareTitle} data-share>
          <p className="share-title">{s.shareTitle}</p>
          <p className="share-explain">{s.shareExplain}</p>
          {link ? (
            <div className="share-row">
              <input ref={input} readOnly value={link} aria-label={s.shareTitle} data-share-link onFocus={(e) => e.currentTarget.select()} />
              <button
                type="button"
                className="btn btn-small"
                onClick={() => void copy(link).then((ok) => setNote(ok ? { text: s.shareCopied, tone: 'ok' } : null))}
              >
                {s.shareCopy}
              </button>
            </div>
          ) : busy ? (
            <p className="share-explain">{s.shareMaking}</p>
          ) : null}
          {note ? (
            <p className={`share-note tone-${note.tone}`} role="status" data-share-note>
              {note.text}
            </p>
          ) : null}
          <div className="share-actions">
            {link ? (
              <button type="button" className="btn btn-small" disabled={busy} onClick={() => void revoke()} data-share-revoke>
                {s.shareRevoke}
              </button>
            ) : (
              <button type="button" className="btn btn-small" disabled={busy} onClick={() => void mint()} data-share-new>
                {s.shareNew}
              </button>
            )}
            <button type="button" className="link-btn" onClick={() => setOpen(false)}>
              {s.shareClose}
            </button>
          </div>
        </div>
      ) : null}
    </span>
  );
}

export function ConnLine({ state, lang, session, extra }: { state: SessionState; lang: Lang; session: LabSession; extra?: ReactNode }) {
  const s = STRINGS[lang];
  const closingIn = useCountdown(state.closing?.at ?? null);
  let status = connectionStatus(state, s, { connecting: s.connConnecting, opening: s.connOpening });
  let action: { label: string; run: () => void } | null = status?.retry ? { label: s.retryNow, run: () => session.retryNow() } : null;
  if (!status) {
    switch (state.phase) {
      case 'ready':
        status = state.closing
          ? { text: s.labClosing(state.closing.reason, closingIn), tone: 'wait' }
          : { text: state.message ? `${s.connReady} · ${state.message}` : s.connReady, tone: 'ok' };
        break;
      case 'limit':
        status = { text: s.connLimit, tone: 'bad' };
        action = { label: s.retryNow, run: () => session.retryNow() };
        break;
      case 'unauthenticated':
        status = { text: s.connUnauthenticated, tone: 'bad' };
        action = { label: s.reload, run: () => location.reload() };
        break;
      default: // 'lab-closed'
        status = { text: s.labClosed(s.labClosedReason(state.message ?? '')), tone: 'bad' };
        action = { label: s.newLab, run: () => session.newLab() };
    }
  }
  return (
    <StatusLine status={status} attrs={{ 'data-conn': state.phase }} labId={state.labId} s={s}>
      {action ? (
        <button type="button" className="btn btn-small" onClick={action.run}>
          {action.label}
        </button>
      ) : state.phase === 'ready' ? (
        <>
          {state.labId ? <SharePanel lang={lang} session={session} labId={state.labId} /> : null}
          <button
            type="button"
            className="link-btn"
            onClick={() => {
              if (window.confirm(s.resetLabConfirm)) void session.resetLab();
            }}
          >
            {s.resetLab}
          </button>
        </>
      ) : null}
      {extra}
    </StatusLine>
  );
}

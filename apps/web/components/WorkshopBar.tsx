'use client';
// A learner's workshop on the lesson page (nothing for learners without a seat): the workshop's
// name and theirs, the instructor's broadcast, and "Ask for help". STABLE HOOKS:
// [data-broadcast], button[data-ask-help].
import { useEffect, useState, useSyncExternalStore } from 'react';
import type { Lang } from '@nslab/shared';
import { LearnerSeat } from '../lib/room';
import { WORKSHOP_STRINGS } from '../lib/workshop-strings';

export function WorkshopBar({ lang }: { lang: Lang }) {
  const s = WORKSHOP_STRINGS[lang];
  const [seat] = useState(() => new LearnerSeat());
  const state = useSyncExternalStore(seat.subscribe, seat.getState, seat.getState);
  const [asking, setAsking] = useState(false);
  const [text, setText] = useState('');

  useEffect(() => {
    seat.start();
    return () => seat.stop();
  }, [seat]);

  if (!state.seat) return null;
  const send = async (e: React.FormEvent) => {
    e.preventDefault();
    await seat.askHelp(text);
    setAsking(false);
    setText('');
  };
  return (
    <section className="workshop-bar" aria-label={s.inWorkshop} data-workshop={state.seat.workshop.id}>
      <div className="workshop-bar-line">
        <span className="workshop-name">
          {s.inWorkshop}: <strong>{state.seat.workshop.title}</strong>
        </span>
        <span className="workshop-me">
          {s.youAre}: {state.seat.seat.name}
        </span>
        {state.closed ? (
          <span className="workshop-over">{s.workshopOver}</span>
        ) : (
          <>
            {!asking && (
              <button type="button" data-ask-help onClick={() => setAsking(true)}>
                {s.askHelp}
              </button>
            )}
            {state.help === 'sent' && !asking && (
              <span className="workshop-help-sent" data-help-sent>
                {s.helpSent}
              </span>
            )}
            {state.help === 'failed' && <span className="workshop-help-failed">{state.helpMessage}</span>}
          </>
        )}
      </div>
      {asking && (
        <form className="workshop-help-form" onSubmit={send}>
          <input name="help" value={text} onChange={(e) => setText(e.target.value)} maxLength={280} placeholder={s.helpPlaceholder} />
          <button type="submit" data-help-send disabled={state.help === 'sending'}>
            {s.helpSend}
          </button>
          <button type="button" onClick={() => setAsking(false)}>
            {s.helpCancel}
          </button>
        </form>
      )}
      {state.takeover?.state === 'asked' && (
        <div className="workshop-takeover" data-takeover role="alertdialog" aria-label={s.takeoverQuestion}>
          <strong>{s.takeoverQuestion}</strong>
          <button type="button" data-allow onClick={() => void seat.answerTakeover(true)}>
            {s.takeoverAllow}
          </button>
          <button type="button" data-deny onClick={() => void seat.answerTakeover(false)}>
            {s.takeoverDeny}
          </button>
        </div>
      )}
      {state.takeover?.state === 'allowed' && (
        <div className="workshop-takeover" data-takeover-on>
          <span>{s.takeoverOn}</span>
          <button type="button" data-takeover-stop onClick={() => void seat.endTakeover()}>
            {s.takeoverStop}
          </button>
        </div>
      )}
      {state.move && (
        <p className="workshop-broadcast" data-move={state.move}>
          {s.moveTo} <a href={`/${lang}/lessons/${state.move}`}>{state.move}</a>
        </p>
      )}
      {state.broadcast && (
        <p className="workshop-broadcast" data-broadcast role="status">
          <span className="workshop-broadcast-from">{s.fromInstructor}:</span> {state.broadcast}
        </p>
      )}
    </section>
  );
}

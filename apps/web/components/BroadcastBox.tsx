'use client';
// A message for every learner's page. STABLE HOOKS: textarea[data-broadcast-input],
// button[data-broadcast-send].
import { useState } from 'react';
import type { WorkshopStrings } from '../lib/workshop-strings';

export function BroadcastBox({ current, s, onSend }: { current: string | null; s: WorkshopStrings; onSend: (text: string) => Promise<void> }) {
  const [text, setText] = useState('');
  return (
    <section className="dash-panel dash-broadcast">
      <h2>{s.broadcastTitle}</h2>
      {current ? (
        <p data-broadcast-current>
          {s.broadcastNow} {current}
        </p>
      ) : null}
      <textarea
        data-broadcast-input
        value={text}
        maxLength={500}
        placeholder={s.broadcastPlaceholder}
        onChange={(e) => setText(e.target.value.replace(/[\r\n]+/g, ' '))}
      />
      <button
        type="button"
        data-broadcast-send
        disabled={!text.trim()}
        onClick={async () => {
          await onSend(text.trim());
          setText('');
        }}
      >
        {s.broadcastSend}
      </button>{' '}
      {current ? (
        <button type="button" className="quiet" data-broadcast-clear onClick={() => void onSend('')}>
          {s.broadcastClear}
        </button>
      ) : null}
    </section>
  );
}

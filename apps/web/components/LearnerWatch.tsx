'use client';
// The way from the dashboard into one learner's panes: this page shows the instructor key (from
// its fragment) to the agent, asks for a read-only link to the learner's current lab, and goes
// to the watch view with it.
import { useEffect, useState } from 'react';
import type { Lang } from '@nslab/shared';
import { AgentSocket, errorMessage } from '../lib/socket';
import { WORKSHOP_STRINGS } from '../lib/workshop-strings';

export function LearnerWatch({ lang, workshop, seat }: { lang: Lang; workshop: string; seat: string }) {
  const s = WORKSHOP_STRINGS[lang];
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    const key = /(?:^#|&)key=([^&]+)/.exec(window.location.hash)?.[1];
    if (!key) {
      setProblem(s.noKey);
      return;
    }
    const socket: AgentSocket = new AgentSocket({
      connecting: () => {},
      hello: async () => {
        try {
          await socket.request({ type: 'instructor', workshop, key: decodeURIComponent(key) });
          const { token } = await socket.request({ type: 'workshop-watch', workshop, seat });
          window.location.replace(`/${lang}/watch#${token}`);
        } catch (err) {
          setProblem(errorMessage(err));
        }
        socket.stop();
      },
      message: () => {},
      frame: () => {},
      closed: () => socket.retryLater(),
      countdown: () => {},
    });
    socket.start();
    return () => socket.stop();
  }, [lang, workshop, seat, s.noKey]);
  return (
    <p className={problem ? 'dash dash-note' : 'dash'} data-watch-error={problem ? '' : undefined}>
      {problem ?? s.connectingRoom}
    </p>
  );
}

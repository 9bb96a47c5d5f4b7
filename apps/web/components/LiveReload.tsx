'use client';
// With the agent watching its lessons (NSLAB_LESSONS_WATCH, `nslab lessons serve`): a connection
// of its own that hears the agent's `lessons-changed` event and renders the page again from the
// agent's new lessons (router.refresh(): the server parts are fetched again, the client parts keep
// their state, so terminals stay as they are). A connection made again after a drop refreshes too:
// a change may have come while it was away. Only pages of a watching agent have it.
import { useEffect } from 'react';
import { useRouter } from 'next/navigation';
import { AgentSocket } from '../lib/socket';

export function LiveReload({ embed = false }: { embed?: boolean }) {
  const router = useRouter();
  useEffect(() => {
    let greeted = false;
    const socket: AgentSocket = new AgentSocket({
      connecting: () => {},
      hello: () => {
        if (greeted) router.refresh();
        greeted = true;
      },
      message: (msg) => {
        if (msg.type === 'lessons-changed') router.refresh();
      },
      frame: () => {},
      closed: (unsupported) => {
        if (!unsupported) socket.retryLater();
      },
      countdown: () => {},
    });
    socket.embed = embed;
    socket.start();
    return () => socket.stop();
  }, [router, embed]);
  return null;
}

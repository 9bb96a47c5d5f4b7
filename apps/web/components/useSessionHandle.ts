'use client';
// What a lesson view's session shows the tests on window.__nslab (lib/nslab-handle.ts): its lab,
// its stream offsets and a way to drop its connection. The lesson page and the embed view both.
import { useEffect } from 'react';
import type { LabSession } from '../lib/session';
import { nslabHandle } from '../lib/nslab-handle';

export function useSessionHandle(session: LabSession, labId: string | null): void {
  useEffect(() => {
    const nslab = nslabHandle();
    nslab.lab = labId;
    nslab.offsets = () => session.offsets();
    nslab.drop = (forMs?: number) => session.dropConnection(forMs);
  }, [labId, session]);
}

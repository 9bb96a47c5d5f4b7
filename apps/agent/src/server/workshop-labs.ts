// What a workshop on another agent does to its learners' labs on this one: an extend, reset or
// close asked for one lab (a `labAction`, relay.ts), and the workshop's close there (every
// learner's lab here goes with it; a close on this agent closes them in its handler). Only a lab whose owner holds a seat
// of that very workshop is touched: an event names a lab, the seats say whether it is the room's.
import { LAB_RESET_REASON } from '@nslab/shared';
import type { LabManager } from '../sandbox/labs.js';
import type { LabAction, Workshops } from '../workshops/workshops.js';

/** A learner's lab gets more time: its lifetime counts from now, and it is not idle. */
export const EXTEND_MS = 30 * 60_000;

type Log = (msg: string, extra: Record<string, unknown>) => void;

/** Do `action` to a lab of this agent (the caller checked it is the workshop's). */
export async function actOnLab(manager: LabManager, labId: string, action: LabAction): Promise<void> {
  const lab = manager.get(labId);
  if (!lab) return;
  if (action === 'extend') return void lab.extend(EXTEND_MS);
  // A reset closes the lab with a reason the learner's page knows: it opens a fresh one.
  await manager.close(lab.id, action === 'reset' ? LAB_RESET_REASON : 'closed by the instructor');
}

export function followWorkshopLabs(workshops: Workshops, manager: LabManager, log: Log): () => void {
  const seatsOf = async (workshop: string) => new Set((await workshops.seats(workshop)).map((s) => s.sessionId));

  const onAction = (workshop: string, labId: string, action: LabAction) => {
    const lab = manager.get(labId);
    if (!lab?.owner) return;
    const owner = lab.owner;
    seatsOf(workshop)
      .then(async (sessions) => {
        if (!sessions.has(owner)) return log('a workshop event named a lab outside its room; ignored', { workshop, lab: labId, action });
        await actOnLab(manager, labId, action);
        workshops.emit('changed', workshop);
      })
      .catch((err: Error) => log('could not act on a learner lab for a workshop', { workshop, lab: labId, action, error: err.message }));
  };

  const onClosed = (workshop: string, elsewhere?: boolean) => {
    if (!elsewhere) return;
    seatsOf(workshop)
      .then((sessions) =>
        Promise.all(
          manager
            .list()
            .filter((l) => l.owner !== null && sessions.has(l.owner) && l.state === 'open')
            .map((l) => manager.close(l.id, 'the workshop was closed').catch(() => {})),
        ),
      )
      .catch((err: Error) => log("could not close a closed workshop's labs", { workshop, error: err.message }));
  };

  workshops.on('labAction', onAction);
  workshops.on('closed', onClosed);
  return () => {
    workshops.off('labAction', onAction);
    workshops.off('closed', onClosed);
  };
}

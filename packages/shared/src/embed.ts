// The embed view's messages to the page that frames it (a training portal, docs/embedding.md):
// posted with `parent.postMessage(message, origin)` to each of the portal's origins only, and
// relayed to the portal's code by the embed script (`/embed/v1.js`, NSLab.mount's onEvent).
// Every type starts with `nslab:`; a portal should ignore a type it does not know (a newer
// agent may add some).
import { z } from 'zod';

export const EMBED_EVENT = {
  /** The lab is open and every pane is attached (its shell's screen is on its way). Once per lab. */
  ready: 'nslab:ready',
  /** A task of the lesson turned done. Once per task in one view. */
  task: 'nslab:task',
  /** Every task of the lesson is done. Once per view. */
  complete: 'nslab:lesson-complete',
  /** The lab closed (its lifetime, idleness, the portal's DELETE, the operator): why, in words. */
  closed: 'nslab:closed',
  /** The least height (CSS pixels) the view needs to show whole; sent when it changes (not in a narrow frame, whose one column scrolls). */
  size: 'nslab:size',
} as const;

export type EmbedEvent =
  | { type: typeof EMBED_EVENT.ready; lesson: string; lab: string }
  | { type: typeof EMBED_EVENT.task; lesson: string; task: string; done: true }
  | { type: typeof EMBED_EVENT.complete; lesson: string; tasks: number }
  | { type: typeof EMBED_EVENT.closed; lesson: string; reason: string }
  | { type: typeof EMBED_EVENT.size; height: number };

/** What the embed view is told of its session (GET /api/embed, with the embed cookie). */
export const EmbedContextInfo = z.object({
  lesson: z.string(),
  lang: z.enum(['en', 'zh']),
  /** The portal's origins: they may frame the view, and they alone receive its events. */
  origins: z.array(z.string()),
  /** Where the view links back to (the portal's page), if the launch said. */
  returnUrl: z.string().nullable(),
  /** How the portal named its learner, if it did. */
  name: z.string().nullable(),
});
export type EmbedContextInfo = z.infer<typeof EmbedContextInfo>;

// The embed view's own logic (a lesson in a training portal's frame, docs/embedding.md): what the
// agent says of this embedded session (GET /api/embed: the portal's origins, where to link back
// to), the learner's earlier progress (GET /api/progress?embed=1), and the events the portal's
// page hears: derived from the lab session's state, each said once, and posted to the portal's
// origins only, never to '*'.
import { EMBED_EVENT, EmbedContextInfo, type EmbedEvent, type Lang } from '@nslab/shared';
import type { SessionState } from './session';

export type EmbedLookup = { kind: 'ok'; ctx: EmbedContextInfo } | { kind: 'none' } | { kind: 'error'; message: string };

/** The embedded session this frame's cookie names: its context, none (401), or why it could not be asked. */
export async function fetchEmbedContext(): Promise<EmbedLookup> {
  try {
    const res = await fetch('/api/embed', { credentials: 'same-origin', cache: 'no-store' });
    if (res.status === 401) return { kind: 'none' };
    if (!res.ok) return { kind: 'error', message: `${res.status} ${res.statusText}` };
    const parsed = EmbedContextInfo.safeParse(await res.json());
    return parsed.success ? { kind: 'ok', ctx: parsed.data } : { kind: 'error', message: 'an answer this page does not understand' };
  } catch (err) {
    return { kind: 'error', message: err instanceof Error ? err.message : String(err) };
  }
}

/** The lesson's tasks this portal learner has done before (in any lab), as the agent keeps them. */
export async function fetchEmbedProgress(lesson: string): Promise<Set<string>> {
  try {
    const res = await fetch('/api/progress?embed=1', { credentials: 'same-origin', cache: 'no-store' });
    if (!res.ok) return new Set();
    const body = (await res.json()) as { tasks?: Array<{ lesson?: unknown; task?: unknown }> };
    return new Set((body.tasks ?? []).filter((t) => t.lesson === lesson && typeof t.task === 'string').map((t) => t.task as string));
  } catch {
    return new Set();
  }
}

/**
 * Where the events go: the page that frames this one, at each of the portal's origins (the
 * browser delivers a message only when the origin is the frame's parent's). When the browser
 * names the parent's origin (location.ancestorOrigins) and it is one of them, to that one only.
 * Nothing is posted when the view is not in a frame.
 */
export function embedTargets(origins: readonly string[]): { parent: Window; origins: string[] } | null {
  if (window.parent === window) return null;
  const known = origins.filter((o) => /^https?:\/\/[^/\s?#]+$/.test(o));
  const ancestor = window.location.ancestorOrigins?.[0];
  return { parent: window.parent, origins: ancestor && known.includes(ancestor) ? [ancestor] : known };
}

export function postEmbedEvent(targets: { parent: Window; origins: string[] } | null, msg: EmbedEvent) {
  if (!targets) return;
  for (const origin of targets.origins) targets.parent.postMessage(msg, origin);
}

/**
 * Turns the lab session's state into the portal's events, each once: `ready` once per lab (it
 * is open and every pane attached), `task` once per task turning done, `lesson-complete` once
 * every task is, `closed` once per lab with the agent's reason.
 */
export class EmbedReporter {
  private readyLab: string | null = null;
  private closedLab: string | null = null;
  private readonly done = new Set<string>();
  private complete = false;
  private readonly taskIds: string[];

  constructor(
    private readonly lesson: string,
    tasks: readonly { id: string }[],
  ) {
    this.taskIds = tasks.map((t) => t.id);
  }

  update(state: SessionState): EmbedEvent[] {
    const out: EmbedEvent[] = [];
    const lab = state.labId;
    const panes = Object.values(state.panes);
    if (state.phase === 'ready' && lab && lab !== this.readyLab && panes.length > 0 && panes.every((p) => p.attached)) {
      this.readyLab = lab;
      out.push({ type: EMBED_EVENT.ready, lesson: this.lesson, lab });
    }
    for (const task of this.taskIds) {
      if (state.tasks?.[task] !== 'done' || this.done.has(task)) continue;
      this.done.add(task);
      out.push({ type: EMBED_EVENT.task, lesson: this.lesson, task, done: true });
    }
    if (!this.complete && this.taskIds.length > 0 && this.taskIds.every((t) => this.done.has(t))) {
      this.complete = true;
      out.push({ type: EMBED_EVENT.complete, lesson: this.lesson, tasks: this.taskIds.length });
    }
    if (state.phase === 'lab-closed' && lab && lab !== this.closedLab) {
      this.closedLab = lab;
      out.push({ type: EMBED_EVENT.closed, lesson: this.lesson, reason: state.message ?? 'closed' });
    }
    return out;
  }
}

/** The most the view ever asks its frame to be. */
export const EMBED_MAX_HEIGHT = 4000;

/** The portal's name for the back link: its host, from the return URL. */
export function portalName(returnUrl: string): string | null {
  try {
    const u = new URL(returnUrl);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.host : null;
  } catch {
    return null;
  }
}

export const EMBED_STRINGS: Record<
  Lang,
  {
    loading: string;
    noSessionTitle: string;
    noSession: string;
    errorTitle: string;
    error: (why: string) => string;
    retry: string;
    backTo: (portal: string) => string;
  }
> = {
  en: {
    loading: 'Opening the lesson…',
    noSessionTitle: 'Open this lesson from your training portal',
    noSession:
      'This page shows a lesson inside a training portal. Go back to your portal and open the lesson there: it starts your lab and brings your progress with it.',
    errorTitle: 'The lesson cannot start right now',
    error: (why) => `nslab did not answer as expected (${why}). Try again in a moment.`,
    retry: 'Try again',
    backTo: (portal) => `Back to ${portal}`,
  },
  zh: {
    loading: '正在打开这一课…',
    noSessionTitle: '请从你的培训平台打开这一课',
    noSession: '这个页面用于在培训平台中显示课程。请回到你的培训平台，从那里打开这一课：平台会为你启动实验环境，并带上你的学习进度。',
    errorTitle: '这一课暂时无法开始',
    error: (why) => `nslab 的回应不正常（${why}）。请稍后再试。`,
    retry: '重试',
    backTo: (portal) => `返回 ${portal}`,
  },
};

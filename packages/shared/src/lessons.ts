// Lesson types shared by the agent and the web app. The lessons themselves are content files
// (content/lessons/<lang>/<id>.md, see docs/lesson-format.md); these are the ones nslab ships.
import type { NamespaceType } from './namespaces.js';

export const LESSON_IDS = ['uts', 'ipc', 'pid', 'mount', 'net', 'user', 'cgroup', 'time'] as const;
export type LessonId = (typeof LESSON_IDS)[number];

export interface PaneDef {
  name: string;
  /** Namespaces made for this pane inside the lab; empty = the lab's own (the "host"). */
  unshare: NamespaceType[];
  /** For a pane with its own time namespace: offsets in seconds. */
  timeOffsets?: { monotonic: number; boottime: number };
}

export interface LessonDef {
  id: string;
  title: string;
  panes: PaneDef[];
}

/** A week, so `uptime` in the time lesson's container is visibly a week ahead. */
export const TIME_LESSON_OFFSET_S = 7 * 24 * 3600;

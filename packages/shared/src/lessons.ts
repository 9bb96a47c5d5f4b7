// Lesson types shared by the agent and the web app. The lessons themselves are content files
// (content/lessons/<lang>/<id>.md, see docs/lesson-format.md); these are the ones nslab ships.
import type { NamespaceType } from './namespaces.js';

export const LESSON_IDS = ['uts', 'ipc', 'pid', 'mount', 'net', 'user', 'cgroup', 'time', 'container'] as const;
export type LessonId = (typeof LESSON_IDS)[number];

export interface PaneDef {
  name: string;
  /** Namespaces made for this pane inside the lab; empty = the lab's own (the "host"). */
  unshare: NamespaceType[];
  /** For a pane with its own time namespace: offsets in seconds. */
  timeOffsets?: { monotonic: number; boottime: number };
  /** The shell starts in the lab's delegated cgroup subtree (and the lab gets one). */
  delegatedCgroup?: boolean;
  /** A pane the learner made in the namespace builder: how it was made, beyond `unshare`. */
  built?: BuiltPane;
}

/** What the namespace builder's choices add to a pane (see builder.ts). */
export interface BuiltPane {
  /** Nested: the pane whose namespaces are joined before the new ones are made. */
  parent?: string;
  /** With a user namespace: the caller (the lab's root) is root in it; without, no id maps. */
  mapUser: boolean;
  /** With mount and PID namespaces: the shell, PID 1, mounts a new /proc. */
  mountProc: boolean;
  /** With a UTS namespace: its host name. */
  hostname?: string;
}

export interface LessonDef {
  id: string;
  title: string;
  panes: PaneDef[];
}

/** A week, so `uptime` in the time lesson's container is visibly a week ahead. */
export const TIME_LESSON_OFFSET_S = 7 * 24 * 3600;

/**
 * The namespace builder's lab: the lab's own shell, to which the learner adds panes of any
 * combination of namespaces (the `pane-add` request). Not a lesson file: it has no text and no
 * tasks, and the agent offers it beside the lessons.
 */
export const BUILDER_LESSON: LessonDef = { id: 'builder', title: 'Namespace builder', panes: [{ name: 'host', unshare: [] }] };

// The lesson catalogue: which panes a lesson needs and the namespaces each pane gets beyond the lab's.
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

const host: PaneDef = { name: 'host', unshare: [] };
const container = (unshare: NamespaceType[], extra: Partial<PaneDef> = {}): PaneDef => ({ name: 'container', unshare, ...extra });

/** A week, so `uptime` in the time lesson's container is visibly a week ahead. */
export const TIME_LESSON_OFFSET_S = 7 * 24 * 3600;

export const LESSONS: Record<LessonId, LessonDef> = {
  uts: { id: 'uts', title: 'UTS namespace: a hostname of your own', panes: [host, container(['uts'])] },
  ipc: { id: 'ipc', title: 'IPC namespace: private message queues', panes: [host, container(['ipc'])] },
  pid: { id: 'pid', title: 'PID namespace: becoming PID 1', panes: [host, container(['pid'])] },
  mount: { id: 'mount', title: 'Mount namespace: your own /proc', panes: [host, container(['mnt', 'pid'])] },
  net: { id: 'net', title: 'Network namespace: only loopback', panes: [host, container(['net'])] },
  user: { id: 'user', title: 'User namespace: root inside, nobody outside', panes: [host, container(['user'])] },
  cgroup: { id: 'cgroup', title: 'Cgroup namespace: your cgroup is the root', panes: [host, container(['cgroup'])] },
  time: {
    id: 'time',
    title: 'Time namespace: a clock that runs ahead',
    panes: [host, container(['time'], { timeOffsets: { monotonic: TIME_LESSON_OFFSET_S, boottime: TIME_LESSON_OFFSET_S } })],
  },
};

export function isLessonId(id: string): id is LessonId {
  return (LESSON_IDS as readonly string[]).includes(id);
}

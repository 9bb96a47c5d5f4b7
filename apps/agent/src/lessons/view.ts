// How the lessons layer sees a lab: its panes by name and a way to run a command in one, plus
// what the namespace picture needs. The sandbox's Lab is one; lessons never import the sandbox.
import type { ExecResult } from '@nslab/shared';
import type { PictureSubject } from '../inspect/picture.js';

export interface LessonPane {
  readonly name: string;
  readonly running: boolean;
}

export interface LessonLab<P extends LessonPane = LessonPane> extends PictureSubject {
  readonly id: string;
  readonly state: 'open' | 'closing' | 'closed';
  pane(name: string): P | undefined;
  exec(pane: P, argv: string[], opts?: { timeoutMs?: number; maxOutput?: number }): Promise<ExecResult>;
}

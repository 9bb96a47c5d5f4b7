// What one connection follows: the panes it attached (each a PaneStream, with its pane's exit,
// start and resize events) and the labs it watches (tasks and pictures). One listener per
// connection on the lab manager tells it of a closed or closing lab, not one per pane.
import type { AttachResult, Picture, ServerMessage, TaskStatus } from '@nslab/shared';
import type { LabManager } from '../sandbox/labs.js';
import type { Lab } from '../sandbox/lab.js';
import type { Pane } from '../sandbox/pane.js';
import type { LabWatchers } from '../lessons/watchers.js';
import { ClientError } from './errors.js';
import { PaneStream } from './stream.js';

export interface SubscriptionSink {
  send(msg: ServerMessage): void;
  /** A binary frame; false when the connection is gone. */
  frame(bytes: Uint8Array): boolean;
}

export class Subscriptions {
  private readonly streams = new Map<string, { stream: PaneStream; off: () => void }>();
  private readonly watching = new Map<string, () => void>();
  private readonly onClosed = (lab: Lab, reason: string) => {
    if (!this.follows(lab.id)) return;
    this.dropLab(lab.id);
    this.sink.send({ type: 'lab-closed', lab: lab.id, reason });
  };
  private readonly onClosing = (lab: Lab, reason: string, inMs: number) => {
    if (this.follows(lab.id)) this.sink.send({ type: 'lab-closing', lab: lab.id, reason, inMs: Math.round(inMs) });
  };

  constructor(
    private readonly manager: LabManager,
    private readonly watchers: LabWatchers,
    private readonly sink: SubscriptionSink,
  ) {
    manager.on('closed', this.onClosed);
    manager.on('closing', this.onClosing);
  }

  /** Does this connection follow the lab (a pane attached, or its tasks watched)? */
  follows(labId: string): boolean {
    return this.watching.has(labId) || [...this.streams.keys()].some((k) => k.startsWith(`${labId}/`));
  }

  stream(labId: string, pane: string): PaneStream | undefined {
    return this.streams.get(`${labId}/${pane}`)?.stream;
  }

  /** Stream a pane (again: a client that reset its terminal gets a fresh replay). */
  async attach(lab: Lab, pane: Pane, readOnly: boolean, from: number | undefined, announce: (r: AttachResult) => void): Promise<void> {
    const key = `${lab.id}/${pane.name}`;
    this.streams.get(key)?.off();
    const stream = new PaneStream(pane, key, readOnly, { frame: (bytes) => this.sink.frame(bytes) });
    const onExit = (exitCode: number | null, signal: number | null) => this.sink.send({ type: 'pane-exit', lab: lab.id, pane: pane.name, exitCode, signal });
    const onStart = () => this.sink.send({ type: 'pane-start', lab: lab.id, pane: pane.name });
    const onResize = (cols: number, rows: number) => this.sink.send({ type: 'pane-size', lab: lab.id, pane: pane.name, cols, rows });
    const onRemoved = () => {
      off();
      this.sink.send({ type: 'pane-closed', lab: lab.id, pane: pane.name });
    };
    pane.on('exit', onExit);
    pane.on('start', onStart);
    pane.on('resize', onResize);
    pane.on('removed', onRemoved);
    const off = () => {
      stream.stop();
      pane.off('exit', onExit);
      pane.off('start', onStart);
      pane.off('resize', onResize);
      pane.off('removed', onRemoved);
      if (this.streams.get(key)?.stream === stream) this.streams.delete(key);
    };
    this.streams.set(key, { stream, off });
    if (await stream.start(from, announce)) return;
    // Stopped while its screen was taken: the request still gets an answer, never silence.
    if (lab.state !== 'open') throw new ClientError('unknown-lab', `lab ${lab.id} closed while attaching`);
    if (this.streams.get(key)) throw new ClientError('failed', `a newer attach of pane ${pane.name} replaced this one`);
    throw new ClientError('failed', `pane ${pane.name} was detached while attaching`);
  }

  detach(labId: string, pane: string) {
    this.streams.get(`${labId}/${pane}`)?.off();
  }

  /** Push the lab's task statuses and pictures as they change. */
  watch(lab: Lab) {
    const w = this.watchers.of(lab);
    if (this.watching.has(lab.id) || !w) return;
    const onTasks = (tasks: TaskStatus[]) => this.sink.send({ type: 'tasks', lab: lab.id, tasks });
    const onPicture = (picture: Picture) => this.sink.send({ type: 'picture', lab: lab.id, picture });
    const onNotice = (level: 'info' | 'warn', message: string) => this.sink.send({ type: 'notice', lab: lab.id, level, message });
    w.on('tasks', onTasks);
    w.on('picture', onPicture);
    w.on('notice', onNotice);
    const stop = w.watch();
    this.watching.set(lab.id, () => {
      w.off('tasks', onTasks);
      w.off('picture', onPicture);
      w.off('notice', onNotice);
      stop();
      this.watching.delete(lab.id);
    });
  }

  unwatch(labId: string) {
    this.watching.get(labId)?.();
  }

  /** Stop following a lab: every pane of it, and its tasks. */
  dropLab(labId: string) {
    for (const [key, { off }] of [...this.streams]) if (key.startsWith(`${labId}/`)) off();
    this.unwatch(labId);
  }

  close() {
    this.manager.off('closed', this.onClosed);
    this.manager.off('closing', this.onClosing);
    for (const { off } of [...this.streams.values()]) off();
    for (const off of [...this.watching.values()]) off();
  }
}

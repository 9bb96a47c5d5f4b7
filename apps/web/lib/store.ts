// What the lesson page's LabSession and the watch page's WatchSession keep alike: a state React
// reads with useSyncExternalStore, the connection's phase (connecting, unreachable with a
// countdown, an agent of another protocol version), each pane's terminal with the stream that
// feeds it, each pane's running/attached state, and the lab's tasks and namespace picture as the
// agent's events and the `watch` request report them.
import type { Frame, Picture, TaskStatus } from '@nslab/shared';
import { PaneFeed, type FeedTerm } from './feed';
import { AgentSocket, type AgentEvent, type AgentHello } from './socket';

/** What a session needs from a terminal. */
export type TermLike = FeedTerm;

/** A pane's terminal as a session feeds it. */
export interface PaneTerm {
  term: TermLike;
  feed: PaneFeed;
  /** The lab whose stream the terminal shows. */
  lab: string | null;
  /** How the latest attach replayed the screen: 'snapshot' or 'resume'. */
  replay: string | null;
}

export interface PaneState {
  running: boolean;
  attached: boolean;
  exitCode: number | null;
  signal: number | null;
}

export interface LabViewState {
  /** The page's phase; both pages have 'connecting', 'unreachable' and 'error'. */
  phase: string;
  /** Seconds until the next reconnect attempt. */
  retryIn: number;
  message: string | null;
  panes: Record<string, PaneState>;
  tasks: Record<string, TaskStatus['status']> | null;
  picture: Picture | null;
}

export const NEW_PANE: PaneState = { running: false, attached: false, exitCode: null, signal: null };

export function taskMap(tasks: TaskStatus[]): Record<string, TaskStatus['status']> {
  return Object.fromEntries(tasks.map((t) => [t.id, t.status]));
}

/** A state React reads with useSyncExternalStore: a new object on every change, listeners told. */
export abstract class StateStore<S> {
  private readonly listeners = new Set<() => void>();

  constructor(public state: S) {}

  subscribe = (fn: () => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };
  getState = () => this.state;

  protected set(patch: Partial<S>) {
    this.state = { ...this.state, ...patch };
    for (const f of this.listeners) f();
  }
}

export abstract class LabStore<S extends LabViewState> extends StateStore<S> {
  protected terms = new Map<string, PaneTerm>();
  protected readonly socket: AgentSocket;

  constructor(
    state: S,
    /** A viewer's terminals take the writer's size from the stream. */
    private readonly follows = false,
  ) {
    super(state);
    this.socket = new AgentSocket({
      // While the agent is away, keep saying so (with "reconnecting…") during each new attempt.
      connecting: () => this.patch({ phase: this.state.phase === 'unreachable' ? 'unreachable' : 'connecting', message: null, retryIn: 0 }),
      hello: (msg) => this.onHello(msg),
      message: (msg) => {
        if (!this.labEvent(msg)) this.onMessage(msg);
      },
      frame: (lab, pane, f) => this.frame(lab, pane, f),
      closed: (unsupported) => {
        this.detachPanes();
        this.lost();
        // The agent does not speak this page's protocol (it was upgraded or downgraded): a
        // reload fetches the page that matches it.
        if (unsupported) return this.patch({ phase: 'error', message: unsupported });
        if (!this.reconnects()) return;
        this.patch({ phase: 'unreachable', message: null });
        this.socket.retryLater();
      },
      countdown: (retryIn) => this.patch({ retryIn }),
      labLost: (reason) => this.onLabLost(reason),
    });
  }

  /** A router says the lab's machine is gone (socket.ts, labLost): the page's lab is over. */
  protected onLabLost(_reason: string) {}

  start() {
    this.socket.start();
  }

  stop() {
    this.socket.stop();
  }

  /** The agent greeted a new connection. */
  protected abstract onHello(msg: AgentHello): void;
  /** An event of the agent's that labEvent() leaves to the page. */
  protected abstract onMessage(msg: AgentEvent): void;
  /** Whether a lost connection is made again (not when the page's phase is final). */
  protected abstract reconnects(): boolean;
  /** The connection is gone. */
  protected lost() {}

  /** The lab whose events and streams this page shows. */
  protected abstract currentLab(): string | null;
  /** Whether a terminal registered now is attached at once. */
  protected abstract attachable(): boolean;
  /** Attach the pane's terminal to the current lab's stream. */
  protected abstract attach(name: string): Promise<void>;
  /** A terminal that showed `lab` went away. */
  protected unregistered(_name: string, _lab: string | null) {}

  registerTerminal(name: string, term: TermLike) {
    const entry: PaneTerm = {
      term,
      lab: null,
      replay: null,
      feed: new PaneFeed(term, {
        follow: this.follows,
        ack: (offset) => {
          if (entry.lab) this.socket.send({ type: 'ack', lab: entry.lab, pane: name, offset });
        },
        gap: () => {
          if (this.terms.get(name) === entry) void this.attach(name);
        },
      }),
    };
    this.terms.set(name, entry);
    if (this.attachable()) void this.attach(name);
    return () => {
      if (this.terms.get(name) === entry) {
        entry.feed.dispose();
        this.terms.delete(name);
        this.unregistered(name, entry.lab);
      }
    };
  }

  /** Stream offsets of each pane's terminal (tests, diagnostics). */
  offsets(): Record<string, { queued: number | null; rendered: number; acked: number; replay: string | null }> {
    return Object.fromEntries([...this.terms].map(([name, t]) => [name, { ...t.feed.offsets, replay: t.replay }]));
  }

  /**
   * The pane's terminal before an attach to `lab`: the same lab's stream continues from what
   * the terminal shows (the agent sends just the missing bytes, or a snapshot when it no longer
   * has them); a terminal that shows nothing of this lab yet gets a snapshot, which redraws it
   * from scratch. Returns the terminal and the offset to ask from.
   */
  protected beforeAttach(name: string, lab: string): { t: PaneTerm; from: number | undefined } | null {
    const t = this.terms.get(name);
    if (!t) return null;
    if (t.lab !== lab) t.feed.forget();
    const from = t.lab === lab ? t.feed.resumeFrom : undefined;
    t.lab = lab;
    return { t, from };
  }

  /** A frame of the current lab's stream, to the terminal that shows it. */
  protected frame(lab: string, pane: string, f: Frame) {
    if (lab !== this.currentLab()) return;
    const t = this.terms.get(pane);
    if (t && t.lab === lab) t.feed.frame(f);
  }

  /** The part of the state both pages have. */
  private patch(patch: Partial<Omit<LabViewState, 'phase'>> & { phase?: 'connecting' | 'unreachable' | 'error' }) {
    this.set(patch as Partial<S>);
  }

  protected setPane(name: string, patch: Partial<PaneState>) {
    const cur = this.state.panes[name] ?? NEW_PANE;
    this.patch({ panes: { ...this.state.panes, [name]: { ...cur, ...patch } } });
  }

  /** No pane is attached any more (the connection is gone). */
  protected detachPanes() {
    this.patch({ panes: Object.fromEntries(Object.entries(this.state.panes).map(([k, v]) => [k, { ...v, attached: false }])) });
  }

  /** The events both pages treat alike; true when `msg` was one of them. */
  protected labEvent(msg: AgentEvent): boolean {
    const lab = this.currentLab();
    switch (msg.type) {
      case 'pane-exit':
        if (msg.lab === lab) this.setPane(msg.pane, { running: false, exitCode: msg.exitCode, signal: msg.signal });
        return true;
      case 'tasks':
        if (msg.lab === lab) this.patch({ tasks: taskMap(msg.tasks) });
        return true;
      case 'picture':
        if (msg.lab === lab) this.patch({ picture: msg.picture });
        return true;
    }
    return false;
  }

  /** Watch the lab's tasks and picture (asking for the picture when the agent has none yet). */
  protected async follow(lab: string) {
    const w = await this.socket.request({ type: 'watch', lab });
    if (this.currentLab() !== lab) return;
    this.patch({ tasks: taskMap(w.tasks) });
    if (w.picture) this.patch({ picture: w.picture });
    else {
      const p = await this.socket.request({ type: 'inspect', lab });
      if (this.currentLab() === lab) this.patch({ picture: p });
    }
  }
}

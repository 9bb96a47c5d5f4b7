// The read-only viewer's side of the protocol (the watch page): redeems a read-only link's token
// (`view`), attaches every pane of that lab as a viewer (the writer's size, no input), watches its
// tasks and namespace picture, and after a dropped connection redeems the token again and resumes
// each pane from the offset its terminal shows. The connection is an AgentSocket (lib/socket.ts).
import type { LabInfo } from '@nslab/shared';
import { errorCode, errorMessage, type AgentEvent } from './socket';
import { LabStore, type LabViewState, type PaneState } from './store';

export type WatchPhase = 'no-link' | 'connecting' | 'opening' | 'live' | 'bad-link' | 'closed' | 'unreachable' | 'error';

export interface WatchState extends LabViewState {
  phase: WatchPhase;
  lab: LabInfo | null;
  retryIn: number;
  message: string | null;
  /** An instructor's take-over of this lab (the instructor's live view only). */
  takeover: 'none' | 'asked' | 'allowed' | 'denied' | 'ended';
}

export class WatchSession extends LabStore<WatchState> {
  constructor(protected readonly token: string | null) {
    super({ phase: token ? 'connecting' : 'no-link', lab: null, retryIn: 0, message: null, panes: {}, tasks: null, picture: null, takeover: 'none' }, true);
    // A link names its lab first (lab.nonce.signature): a router takes the connection to its machine.
    const lab = token?.split('.')[0] ?? '';
    if (/^[a-z0-9]{6,32}$/.test(lab)) this.socket.lab = lab;
  }

  protected onLabLost(reason: string) {
    this.set({ phase: 'closed', message: reason });
  }

  protected currentLab() {
    return this.state.lab?.id ?? null;
  }

  start() {
    if (this.token) super.start();
  }

  /** Start again after a failure ("Try again"). */
  retryNow() {
    if (this.token) this.socket.restart();
  }

  // ---- the pane source TerminalPane needs (a viewer types nothing and sizes nothing) ----
  protected attachable() {
    return this.state.phase === 'live';
  }
  input(_pane: string, _data: string): boolean {
    return false;
  }
  resize() {}
  async restart() {}

  // ---- the connection ----
  protected reconnects() {
    return this.state.phase !== 'bad-link' && this.state.phase !== 'closed' && this.state.phase !== 'error';
  }

  protected onHello() {
    void this.redeem();
  }

  protected onMessage(msg: AgentEvent) {
    const lab = this.currentLab();
    switch (msg.type) {
      case 'pane-size': {
        const t = msg.lab === lab ? this.terms.get(msg.pane) : undefined;
        if (t) t.feed.resizeInBand(msg.cols, msg.rows);
        return;
      }
      case 'pane-start':
        if (msg.lab === lab) this.setPane(msg.pane, { running: true, exitCode: null, signal: null });
        return;
      case 'lab-closed':
        if (msg.lab === lab) this.set({ phase: 'closed', message: msg.reason });
        return;
    }
  }

  /** Redeem the link on this connection, then attach and watch. */
  private async redeem() {
    const ws = this.socket.current;
    if (!this.token) return;
    try {
      this.set({ phase: this.state.lab ? this.state.phase : 'opening' });
      const info = await this.socket.request({ type: 'view', token: this.token });
      if (ws !== this.socket.current) return;
      const panes: Record<string, PaneState> = {};
      for (const p of info.panes) panes[p.name] = { running: p.running, attached: false, exitCode: p.exitCode, signal: p.signal };
      this.set({ lab: info, panes, phase: 'live', message: null });
      await Promise.all([...this.terms.keys()].map((name) => this.attach(name)));
      await this.follow(info.id);
    } catch (err) {
      if (ws !== this.socket.current) return;
      const code = errorCode(err);
      if (code === 'connection') return;
      if (code === 'bad-link' || code === 'unknown-lab') {
        this.set({ phase: 'bad-link', message: errorMessage(err) });
        this.socket.current?.close(1000, 'bad link');
        return;
      }
      if (this.state.phase !== 'live') this.set({ phase: 'error', message: errorMessage(err) });
    }
  }

  protected async attach(name: string) {
    const lab = this.currentLab();
    const at = lab ? this.beforeAttach(name, lab) : null;
    if (!lab || !at) return;
    const { t, from } = at;
    try {
      const res = await this.socket.request({ type: 'attach', lab, pane: name, ...(from !== undefined ? { from } : {}) });
      t.replay = res.replay;
      // Resumed: the writer may have resized meanwhile (a snapshot carries its size itself).
      if (res.replay === 'resume') t.feed.resizeInBand(res.cols, res.rows);
      this.setPane(name, { attached: true, running: res.running });
    } catch (err) {
      const code = errorCode(err);
      if (code === 'unknown-lab' || code === 'bad-link') this.set({ phase: 'closed', message: errorMessage(err) });
    }
  }
}

/**
 * The instructor's live view of a learner: a watch of their lab on a connection that first shows
 * the instructor key, so that once the learner allows a take-over, this view may type in it.
 */
export class InstructorWatch extends WatchSession {
  constructor(
    token: string | null,
    private readonly workshop: string,
    private readonly key: string,
    private readonly seat: string,
  ) {
    super(token);
  }

  protected onHello() {
    this.socket.request({ type: 'instructor', workshop: this.workshop, key: this.key }).then(
      () => super.onHello(),
      (err: unknown) => this.set({ phase: 'error', message: errorMessage(err) }),
    );
  }

  protected onMessage(msg: AgentEvent) {
    if (msg.type === 'takeover-state' && msg.workshop === this.workshop && msg.seat === this.seat) this.set({ takeover: msg.state });
    super.onMessage(msg);
  }

  async requestTakeover() {
    try {
      await this.socket.request({ type: 'takeover-request', workshop: this.workshop, seat: this.seat });
    } catch (err) {
      this.set({ message: errorMessage(err) });
    }
  }

  async endTakeover() {
    await this.socket.request({ type: 'takeover-end', workshop: this.workshop, seat: this.seat }).catch(() => {});
  }

  input(pane: string, data: string): boolean {
    const lab = this.currentLab();
    if (this.state.takeover !== 'allowed' || !lab) return false;
    return this.socket.send({ type: 'input', lab, pane, data });
  }
}

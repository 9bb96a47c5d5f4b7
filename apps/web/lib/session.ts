// The browser side of the agent's WebSocket protocol (docs/protocol.md) for one lesson page:
// connects to ws(s)://<this host>/api/ws (the agent authenticates the browser by its session
// cookie; no token ever reaches the page), finds or opens the lab, attaches every pane, watches
// tasks and the namespace picture, and reconnects with backoff when the agent goes away (the
// connection itself is an AgentSocket, lib/socket.ts).
// Protocol v2: each pane's output is a PaneFeed (snapshot on page load, exact resume after a
// dropped connection, flow-control acks); input goes through an InputQueue (chunked pastes).
import { LAB_RESET_REASON, type BuilderChoice, type LabInfo, type PaneInfo } from '@nslab/shared';
import { InputQueue } from './input';
import { AgentError, errorCode, errorMessage, type AgentEvent, type AgentHello } from './socket';
import { LabStore, NEW_PANE, taskMap, type LabViewState, type PaneState } from './store';

export type ConnPhase = 'connecting' | 'opening' | 'ready' | 'unreachable' | 'unauthenticated' | 'limit' | 'error' | 'lab-closed';

export interface SessionState extends LabViewState {
  phase: ConnPhase;
  labId: string | null;
  /** Seconds until the next reconnect attempt (phase unreachable/limit). */
  retryIn: number;
  message: string | null;
  checking: boolean;
  /** The agent warned that the lab closes soon (Date.now() when it will), and why. */
  closing: { reason: string; at: number } | null;
  /** The lab's panes as the agent described them (the builder's panes come and go). */
  paneInfos: PaneInfo[];
}

const LAB_KEY = (lesson: string) => `nslab.lab.${lesson}`;

/**
 * The tab's lab of a lesson, kept across reloads in sessionStorage; nothing is kept where the
 * browser denies storage (a third-party frame in a browser that blocks it: an embed view).
 */
const rememberedLab = {
  get(lesson: string): string | null {
    try {
      return sessionStorage.getItem(LAB_KEY(lesson));
    } catch {
      return null;
    }
  },
  set(lesson: string, lab: string | null) {
    try {
      if (lab === null) sessionStorage.removeItem(LAB_KEY(lesson));
      else sessionStorage.setItem(LAB_KEY(lesson), lab);
    } catch {
      /* not kept */
    }
  },
};

export class LabSession extends LabStore<SessionState> {
  private inputs = new Map<string, InputQueue>();
  /** A fresh session cookie was asked for after this connection's hello said no. */
  private renewedSession = false;
  /** A lab this page is closing itself (its lab-closed event is expected). */
  private closing: string | null = null;

  constructor(
    readonly lesson: string,
    /** The panes to attach: the lesson's; in the builder, whatever panes the lab has. */
    public paneNames: string[],
    private readonly strings: { newLabNotice: string },
    /**
     * `embed`: the embed view in a portal's frame, whose session is its embed cookie's (lib/embed.ts).
     * `dynamicPanes`: the namespace builder, whose lab gains and loses panes (addPane, closePane).
     */
    private readonly options: { embed?: boolean; dynamicPanes?: boolean } = {},
  ) {
    super({
      phase: 'connecting',
      labId: null,
      retryIn: 0,
      message: null,
      panes: Object.fromEntries(paneNames.map((n) => [n, NEW_PANE])),
      tasks: null,
      picture: null,
      checking: false,
      closing: null,
      paneInfos: [],
    });
    this.socket.embed = options.embed === true;
    // After a reload, the first connection goes to the machine that holds the tab's lab.
    this.socket.lab = rememberedLab.get(lesson);
  }

  protected currentLab() {
    return this.state.labId;
  }

  // ---- lifecycle ----
  stop() {
    for (const q of this.inputs.values()) q.clear();
    super.stop();
  }

  protected attachable() {
    return this.state.phase === 'ready' && this.state.labId !== null;
  }

  protected unregistered(name: string, lab: string | null) {
    if (lab) this.socket.send({ type: 'detach', lab, pane: name });
  }

  protected lost() {
    for (const q of this.inputs.values()) q.clear();
  }

  protected reconnects() {
    return this.state.phase !== 'unauthenticated' && this.state.phase !== 'lab-closed';
  }

  protected onLabLost(reason: string) {
    // The lab went with its machine: say so, as for any closed lab; "open a new lab" is placed anew.
    rememberedLab.set(this.lesson, null);
    this.set({ phase: 'lab-closed', message: reason, picture: null, closing: null });
  }

  /**
   * Drop the connection as a network failure would, and fail every attempt to reconnect for
   * `forMs` (tests): the session reconnects by itself afterwards.
   */
  dropConnection(forMs = 0) {
    this.socket.drop(forMs);
  }

  /** Reconnect now (a "Retry now" button). */
  retryNow() {
    if (this.socket.open) void this.setupLab();
    else this.socket.restart();
  }

  // ---- messages ----
  protected onHello(msg: AgentHello) {
    if (!msg.authenticated) {
      // The cookie is missing or was signed by an agent that has since restarted: get a
      // fresh one (GET /api/session sets it) and connect again, once. An embedded session
      // comes only from a new launch by the portal.
      if (!this.renewedSession && !this.options.embed) {
        this.renewedSession = true;
        const ws = this.socket.current;
        fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' })
          .catch(() => undefined)
          .finally(() => {
            if (ws === this.socket.current) this.socket.restart();
          });
        return;
      }
      this.set({ phase: 'unauthenticated' });
      return;
    }
    this.renewedSession = false;
    void this.setupLab();
  }

  protected onMessage(msg: AgentEvent) {
    switch (msg.type) {
      case 'error':
        // Not the answer to a request.
        if (msg.code === 'unauthenticated') this.set({ phase: 'unauthenticated' });
        return;
      case 'pane-start':
        if (msg.lab === this.state.labId) {
          this.setPane(msg.pane, { running: true, exitCode: null, signal: null });
          const t = this.terms.get(msg.pane);
          if (t) this.socket.send({ type: 'resize', lab: msg.lab, pane: msg.pane, cols: t.term.cols, rows: t.term.rows });
        }
        return;
      case 'lab-closed':
        if (msg.lab === this.state.labId && msg.lab !== this.closing) {
          rememberedLab.set(this.lesson, null);
          for (const q of this.inputs.values()) q.clear();
          // The instructor reset it: a fresh lab at once, with a word on why.
          if (msg.reason === LAB_RESET_REASON) {
            this.set({ labId: null, picture: null, closing: null });
            void this.setupLab();
            return;
          }
          this.set({ phase: 'lab-closed', message: msg.reason, picture: null, closing: null });
        }
        return;
      case 'lab-closing':
        if (msg.lab === this.state.labId) this.set({ closing: { reason: msg.reason, at: Date.now() + msg.inMs } });
        return;
      case 'pane-closed':
        if (msg.lab === this.state.labId) this.forgetPanes([msg.pane]);
        return;
      case 'pane-size':
        // The writer's own size coming back (or another tab of this browser's): a writer keeps
        // the size of its own window.
        return;
    }
  }

  // ---- the lab ----
  private async setupLab() {
    const ws = this.socket.current;
    try {
      this.set({ phase: 'opening', message: null });
      const labs = await this.socket.request({ type: 'list' });
      const remembered = rememberedLab.get(this.lesson);
      const current = this.state.labId;
      const mine = (l: LabInfo) => l.lesson === this.lesson;
      let lab = labs.find((l) => mine(l) && l.id === current) ?? labs.find((l) => mine(l) && l.id === remembered) ?? labs.find(mine);
      if (!lab) lab = await this.socket.request({ type: 'open', lesson: this.lesson });
      if (ws !== this.socket.current) return;
      const changed = current !== null && current !== lab.id;
      rememberedLab.set(this.lesson, lab.id);
      this.socket.lab = lab.id;
      if (this.options.dynamicPanes) this.paneNames = lab.panes.map((p) => p.name);
      const panes: Record<string, PaneState> = {};
      for (const name of this.paneNames) {
        const info = lab.panes.find((p) => p.name === name);
        panes[name] = { running: info?.running ?? false, attached: false, exitCode: info?.exitCode ?? null, signal: info?.signal ?? null };
      }
      this.set({
        labId: lab.id,
        panes,
        phase: 'ready',
        // Said in the status line, not written into the terminals: they show exactly the
        // agent's screens.
        message: changed ? this.strings.newLabNotice : null,
        tasks: changed ? null : this.state.tasks,
        picture: changed ? null : this.state.picture,
        closing: null,
        paneInfos: lab.panes,
      });
      await Promise.all([...this.terms.keys()].map((name) => this.attach(name)));
      this.follow(lab.id).catch(() => {});
    } catch (err) {
      if (ws !== this.socket.current) return;
      const code = errorCode(err);
      if (code === 'connection') return; // the connection went: LabStore's closed() tries again
      if (code === 'draining') {
        // This machine is leaving: a new connection is placed on another one.
        this.set({ phase: 'limit', message: errorMessage(err) });
        return this.socket.reconnectLater();
      }
      if (code === 'limit') {
        // Too many labs: ask again later, on a new connection (behind a router it may be placed
        // on a machine with room; one agent alone is simply asked again).
        this.set({ phase: 'limit', message: errorMessage(err) });
        return this.socket.reconnectLater();
      }
      if (code === 'unauthenticated') return this.set({ phase: 'unauthenticated' });
      this.set({ phase: 'error', message: errorMessage(err) });
    }
  }

  protected async attach(name: string) {
    const lab = this.state.labId;
    const at = lab ? this.beforeAttach(name, lab) : null;
    if (!lab || !at) return;
    const { t, from } = at;
    try {
      const res = await this.socket.request({
        type: 'attach',
        lab,
        pane: name,
        cols: Math.max(2, Math.min(1000, t.term.cols)),
        rows: Math.max(1, Math.min(500, t.term.rows)),
        ...(from !== undefined ? { from } : {}),
      });
      t.replay = res.replay;
      this.setPane(name, { attached: true, running: res.running });
    } catch (err) {
      if (errorCode(err) === 'unknown-lab') {
        rememberedLab.set(this.lesson, null);
        this.set({ labId: null });
        void this.setupLab();
      }
    }
  }

  // ---- learner actions ----
  input(pane: string, data: string): boolean {
    const lab = this.state.labId;
    if (!lab || this.state.phase !== 'ready') return false;
    const st = this.state.panes[pane];
    if (st && !st.running) return false;
    let q = this.inputs.get(pane);
    if (!q) {
      q = new InputQueue({
        send: (chunk) => {
          const lab = this.state.labId;
          return lab !== null && this.socket.send({ type: 'input', lab, pane, data: chunk });
        },
        request: (chunk) => {
          const lab = this.state.labId;
          return lab !== null ? this.socket.request({ type: 'input', lab, pane, data: chunk }) : Promise.reject(new AgentError('connection', 'no lab'));
        },
      });
      this.inputs.set(pane, q);
    }
    return q.push(data);
  }

  /** A read-only link to this lab (`revoke`: make every earlier link invalid). */
  async share(revoke = false): Promise<string | null> {
    const lab = this.state.labId;
    if (!lab) throw new AgentError('connection', 'no lab');
    const res = await this.socket.request({ type: 'share', lab, ...(revoke ? { revoke: true } : {}) });
    return 'token' in res ? res.token : null;
  }

  /**
   * The learner is using this terminal (it got the focus, or the page became visible): the agent
   * lets this client's acknowledgements pace the pane (another tab's do not).
   */
  focus(pane: string) {
    const lab = this.state.labId;
    if (!lab || !this.state.panes[pane]?.attached) return;
    this.socket.send({ type: 'focus', lab, pane });
  }

  resize(pane: string, cols: number, rows: number) {
    const lab = this.state.labId;
    if (!lab || !this.state.panes[pane]?.attached) return;
    this.socket.send({ type: 'resize', lab, pane, cols: Math.max(2, Math.min(1000, cols)), rows: Math.max(1, Math.min(500, rows)) });
  }

  async restart(pane: string) {
    const lab = this.state.labId;
    if (!lab) return;
    try {
      const info = await this.socket.request({ type: 'restart', lab, pane });
      this.setPane(pane, { running: info.running, exitCode: info.exitCode, signal: info.signal });
      const t = this.terms.get(pane);
      if (t) this.socket.send({ type: 'resize', lab, pane, cols: t.term.cols, rows: t.term.rows });
    } catch {
      /* the state line stays as it is */
    }
  }

  /**
   * The builder: a new pane made from `choice` (inside `parent`'s namespaces when given). Its
   * terminal attaches once the page renders it. Rejects with the agent's reason.
   */
  async addPane(choice: BuilderChoice, parent?: string): Promise<PaneInfo> {
    const lab = this.state.labId;
    if (!lab || this.state.phase !== 'ready') throw new AgentError('connection', 'no lab yet');
    const info = await this.socket.request({ type: 'pane-add', lab, choice, ...(parent ? { parent } : {}) });
    if (this.state.labId !== lab) return info;
    if (!this.paneNames.includes(info.name)) this.paneNames = [...this.paneNames, info.name];
    this.set({
      paneInfos: [...this.state.paneInfos.filter((p) => p.name !== info.name), info],
      panes: { ...this.state.panes, [info.name]: { running: info.running, attached: false, exitCode: info.exitCode, signal: info.signal } },
    });
    return info;
  }

  /** The builder: close a pane it made (and the panes made inside it). */
  async closePane(name: string): Promise<void> {
    const lab = this.state.labId;
    if (!lab) return;
    const res = await this.socket.request({ type: 'pane-close', lab, pane: name });
    if (this.state.labId === lab) this.forgetPanes(res.closed);
  }

  private forgetPanes(names: string[]) {
    const gone = new Set(names);
    if (![...gone].some((n) => n in this.state.panes || this.paneNames.includes(n))) return;
    this.paneNames = this.paneNames.filter((n) => !gone.has(n));
    for (const n of gone) this.inputs.get(n)?.clear();
    const panes = { ...this.state.panes };
    for (const n of gone) delete panes[n];
    this.set({ panes, paneInfos: this.state.paneInfos.filter((p) => !gone.has(p.name)) });
  }

  async check() {
    const lab = this.state.labId;
    if (!lab) return;
    this.set({ checking: true });
    try {
      const res = await this.socket.request({ type: 'check', lab });
      this.set({ tasks: taskMap(res.tasks) });
    } catch {
      /* tasks events carry the answer too */
    } finally {
      this.set({ checking: false });
    }
  }

  /** Start over: close this lab and open a fresh one. */
  async resetLab() {
    const lab = this.state.labId;
    if (lab) {
      this.closing = lab;
      await this.socket.request({ type: 'close', lab }).catch(() => {});
      rememberedLab.set(this.lesson, null);
    }
    this.newLab();
  }

  /** After lab-closed: open a fresh lab. */
  newLab() {
    this.socket.lab = null;
    this.set({ labId: null, tasks: null, picture: null, closing: null });
    for (const q of this.inputs.values()) q.clear();
    for (const t of this.terms.values()) {
      t.feed.forget();
      t.lab = null;
      t.term.reset();
    }
    if (this.socket.open) void this.setupLab();
    else this.socket.restart();
  }
}

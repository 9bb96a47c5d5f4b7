// The browser side of the agent's WebSocket protocol (docs/protocol.md) for one lesson page:
// connects to ws(s)://<this host>/api/ws (the agent authenticates the browser by its session
// cookie; no token ever reaches the page), finds or opens the lab, attaches every pane, watches
// tasks and the namespace picture, and reconnects with backoff when the agent goes away.
// Protocol v2: each pane's output is a PaneFeed (snapshot on page load, exact resume after a
// dropped connection, flow-control acks); input goes through an InputQueue (chunked pastes).
import { PROTOCOL_VERSION, WS_PATH, decodeFrame, type AttachResult, type LabInfo, type Picture, type TaskStatus } from '@nslab/shared';
import { PaneFeed, type FeedTerm } from './feed';
import { InputQueue } from './input';

export type ConnPhase =
  | 'connecting'
  | 'opening'
  | 'ready'
  | 'unreachable'
  | 'unauthenticated'
  | 'limit'
  | 'error'
  | 'lab-closed';

export interface PaneState {
  running: boolean;
  attached: boolean;
  exitCode: number | null;
  signal: number | null;
}

export interface SessionState {
  phase: ConnPhase;
  labId: string | null;
  /** Seconds until the next reconnect attempt (phase unreachable/limit). */
  retryIn: number;
  message: string | null;
  panes: Record<string, PaneState>;
  tasks: Record<string, TaskStatus['status']> | null;
  picture: Picture | null;
  checking: boolean;
  /** The agent warned that the lab closes soon (Date.now() when it will), and why. */
  closing: { reason: string; at: number } | null;
}

/** What the session needs from a terminal. */
export type TermLike = FeedTerm;

export interface TermHooks {
  /** Called when the terminal should show a one-line note (dim). */
  note?: (text: string) => void;
}

interface Pending {
  resolve: (data: unknown) => void;
  reject: (err: AgentError) => void;
}

export class AgentError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const LAB_KEY = (lesson: string) => `nslab.lab.${lesson}`;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

export class LabSession {
  state: SessionState;
  private ws: WebSocket | null = null;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private listeners = new Set<() => void>();
  private terms = new Map<string, { term: TermLike; hooks: TermHooks; feed: PaneFeed; lab: string | null; replay: string | null }>();
  private inputs = new Map<string, InputQueue>();
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private tick: ReturnType<typeof setInterval> | null = null;
  private stopped = false;
  /** A fresh session cookie was asked for after this connection's hello said no. */
  private renewedSession = false;
  private generation = 0;
  /** Connection attempts fail until then (dropConnection, for tests). */
  private unreachableUntil = 0;
  /** A lab this page is closing itself (its lab-closed event is expected). */
  private closing: string | null = null;
  /** A line to show in every terminal on its next attach (a new lab replaced the old one). */
  private noteOnAttach: string | null = null;

  constructor(
    readonly lesson: string,
    readonly paneNames: string[],
    private readonly strings: { newLabNotice: string },
  ) {
    this.state = {
      phase: 'connecting',
      labId: null,
      retryIn: 0,
      message: null,
      panes: Object.fromEntries(paneNames.map((n) => [n, { running: false, attached: false, exitCode: null, signal: null }])),
      tasks: null,
      picture: null,
      checking: false,
      closing: null,
    };
  }

  // ---- state for React ----
  subscribe = (fn: () => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };
  getState = () => this.state;
  private set(patch: Partial<SessionState>) {
    this.state = { ...this.state, ...patch };
    this.listeners.forEach((f) => f());
  }
  private setPane(name: string, patch: Partial<PaneState>) {
    const cur = this.state.panes[name] ?? { running: false, attached: false, exitCode: null, signal: null };
    this.set({ panes: { ...this.state.panes, [name]: { ...cur, ...patch } } });
  }

  // ---- lifecycle ----
  start() {
    this.stopped = false;
    window.addEventListener('online', this.wake);
    document.addEventListener('visibilitychange', this.wake);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.wake);
    document.removeEventListener('visibilitychange', this.wake);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.tick) clearInterval(this.tick);
    for (const q of this.inputs.values()) q.clear();
    this.ws?.close(1000, 'page closed');
    this.ws = null;
  }

  registerTerminal(name: string, term: TermLike, hooks: TermHooks = {}) {
    const entry = {
      term,
      hooks,
      lab: null as string | null,
      /** How the latest attach replayed the screen: 'snapshot' or 'resume'. */
      replay: null as string | null,
      feed: new PaneFeed(term, {
        ack: (offset) => {
          if (entry.lab) this.sendRaw({ type: 'ack', lab: entry.lab, pane: name, offset });
        },
        gap: () => {
          if (this.terms.get(name) === entry) void this.attach(name);
        },
      }),
    };
    this.terms.set(name, entry);
    if (this.state.phase === 'ready' && this.state.labId) void this.attach(name);
    return () => {
      if (this.terms.get(name) === entry) {
        entry.feed.dispose();
        this.terms.delete(name);
        if (entry.lab) this.sendRaw({ type: 'detach', lab: entry.lab, pane: name });
      }
    };
  }

  /** Stream offsets of each pane's terminal (tests, diagnostics). */
  offsets(): Record<string, { queued: number | null; rendered: number; acked: number; replay: string | null }> {
    return Object.fromEntries([...this.terms].map(([name, t]) => [name, { ...t.feed.offsets, replay: t.replay }]));
  }

  private url(): string {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${location.host}${WS_PATH}?v=${PROTOCOL_VERSION}`;
  }

  private connect() {
    if (this.stopped) return;
    const gen = ++this.generation;
    // While the agent is away, keep saying so (with "reconnecting…") during each new attempt.
    this.set({ phase: this.state.phase === 'unreachable' ? 'unreachable' : 'connecting', message: null, retryIn: 0 });
    let ws: WebSocket;
    try {
      if (Date.now() < this.unreachableUntil) throw new Error('unreachable (simulated)');
      ws = new WebSocket(this.url());
    } catch {
      this.scheduleReconnect();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (gen !== this.generation) return;
      if (typeof ev.data === 'string') this.onText(ev.data);
      else this.onBinary(new Uint8Array(ev.data as ArrayBuffer));
    };
    ws.onclose = (ev) => {
      if (gen !== this.generation) return;
      this.ws = null;
      for (const p of this.pending.values()) p.reject(new AgentError('disconnected', 'connection lost'));
      this.pending.clear();
      for (const q of this.inputs.values()) q.clear();
      const panes = Object.fromEntries(Object.entries(this.state.panes).map(([k, v]) => [k, { ...v, attached: false }]));
      this.set({ panes });
      if (this.stopped) return;
      if (ev.code === 4002) {
        // The agent does not speak this page's protocol (it was upgraded or downgraded): a
        // reload fetches the page that matches it.
        this.set({ phase: 'error', message: ev.reason || 'unsupported protocol version' });
        return;
      }
      if (this.state.phase === 'unauthenticated' || this.state.phase === 'lab-closed') return;
      this.scheduleReconnect();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private scheduleReconnect(phase: ConnPhase = 'unreachable', message: string | null = null) {
    if (this.stopped) return;
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)]!;
    this.attempt++;
    const at = Date.now() + delay;
    this.set({ phase, message, retryIn: Math.ceil(delay / 1000) });
    if (this.tick) clearInterval(this.tick);
    this.tick = setInterval(() => {
      const left = Math.max(0, Math.ceil((at - Date.now()) / 1000));
      if (left !== this.state.retryIn) this.set({ retryIn: left });
    }, 250);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.tick) clearInterval(this.tick);
      this.tick = null;
      if (phase === 'limit' && this.ws) void this.setupLab();
      else this.connect();
    }, delay);
  }

  /** The network is back, or the learner looks at the page again: do not wait for the backoff. */
  private wake = () => {
    if (document.visibilityState === 'visible' && this.state.phase === 'unreachable') this.retryNow();
  };

  /**
   * Drop the connection as a network failure would, and fail every attempt to reconnect for
   * `forMs` (tests): the session reconnects by itself afterwards.
   */
  dropConnection(forMs = 0) {
    this.unreachableUntil = Date.now() + forMs;
    this.ws?.close(3000, 'dropped');
  }

  /** Reconnect now (a "Retry now" button). */
  retryNow() {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.tick) clearInterval(this.tick);
    this.attempt = 0;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) void this.setupLab();
    else {
      this.ws?.close();
      this.connect();
    }
  }

  // ---- messages ----
  private sendRaw(msg: Record<string, unknown>) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  request<T = unknown>(msg: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (!this.sendRaw({ ...msg, id })) return reject(new AgentError('disconnected', 'not connected'));
      this.pending.set(id, { resolve: resolve as (d: unknown) => void, reject });
    });
  }

  private onText(text: string) {
    let msg: { type?: string; [k: string]: unknown };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    switch (msg.type) {
      case 'hello':
        if (!msg.authenticated) {
          // The cookie is missing or was signed by an agent that has since restarted: get a
          // fresh one (GET /api/session sets it) and connect again, once.
          if (!this.renewedSession) {
            this.renewedSession = true;
            const ws = this.ws;
            fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' })
              .catch(() => undefined)
              .finally(() => {
                if (ws === this.ws) {
                  this.generation++;
                  ws?.close();
                  this.ws = null;
                  this.connect();
                }
              });
            return;
          }
          this.set({ phase: 'unauthenticated' });
          return;
        }
        this.attempt = 0;
        this.renewedSession = false;
        void this.setupLab();
        return;
      case 'result':
      case 'error': {
        const id = msg.id;
        const p = typeof id === 'number' ? this.pending.get(id) : undefined;
        if (p) {
          this.pending.delete(id as number);
          if (msg.type === 'result') p.resolve(msg.data);
          else p.reject(new AgentError(String(msg.code), String(msg.message)));
        } else if (msg.type === 'error' && msg.code === 'unauthenticated') {
          this.set({ phase: 'unauthenticated' });
        }
        return;
      }
      case 'pane-exit':
        if (msg.lab === this.state.labId)
          this.setPane(String(msg.pane), { running: false, exitCode: (msg.exitCode as number | null) ?? null, signal: (msg.signal as number | null) ?? null });
        return;
      case 'pane-start':
        if (msg.lab === this.state.labId) {
          this.setPane(String(msg.pane), { running: true, exitCode: null, signal: null });
          const t = this.terms.get(String(msg.pane));
          if (t) this.sendRaw({ type: 'resize', lab: this.state.labId, pane: msg.pane, cols: t.term.cols, rows: t.term.rows });
        }
        return;
      case 'lab-closed':
        if (msg.lab === this.state.labId && msg.lab !== this.closing) {
          sessionStorage.removeItem(LAB_KEY(this.lesson));
          for (const q of this.inputs.values()) q.clear();
          this.set({ phase: 'lab-closed', message: String(msg.reason ?? ''), picture: null, closing: null });
        }
        return;
      case 'lab-closing':
        if (msg.lab === this.state.labId && typeof msg.inMs === 'number') {
          this.set({ closing: { reason: String(msg.reason ?? ''), at: Date.now() + msg.inMs } });
        }
        return;
      case 'pane-size':
        // The writer's own size coming back (or another tab of this browser's): a writer keeps
        // the size of its own window.
        return;
      case 'tasks':
        if (msg.lab === this.state.labId && Array.isArray(msg.tasks)) {
          this.set({ tasks: Object.fromEntries((msg.tasks as TaskStatus[]).map((t) => [t.id, t.status])) });
        }
        return;
      case 'picture':
        if (msg.lab === this.state.labId && msg.picture) this.set({ picture: msg.picture as Picture });
        return;
    }
  }

  private onBinary(buf: Uint8Array) {
    const f = decodeFrame(buf);
    if (!f) return;
    const slash = f.key.indexOf('/');
    const lab = f.key.slice(0, slash);
    if (lab !== this.state.labId) return;
    const t = this.terms.get(f.key.slice(slash + 1));
    if (!t || t.lab !== lab) return;
    t.feed.frame(f);
  }

  // ---- the lab ----
  private async setupLab() {
    const ws = this.ws;
    try {
      this.set({ phase: 'opening', message: null });
      const labs = await this.request<LabInfo[]>({ type: 'list' });
      const remembered = sessionStorage.getItem(LAB_KEY(this.lesson));
      const current = this.state.labId;
      const mine = (l: LabInfo) => l.lesson === this.lesson;
      let lab = labs.find((l) => mine(l) && l.id === current) ?? labs.find((l) => mine(l) && l.id === remembered) ?? labs.find(mine);
      if (!lab) lab = await this.request<LabInfo>({ type: 'open', lesson: this.lesson });
      if (ws !== this.ws) return;
      const changed = current !== null && current !== lab.id;
      this.noteOnAttach = changed ? this.strings.newLabNotice : null;
      sessionStorage.setItem(LAB_KEY(this.lesson), lab.id);
      const panes: Record<string, PaneState> = {};
      for (const name of this.paneNames) {
        const info = lab.panes.find((p) => p.name === name);
        panes[name] = { running: info?.running ?? false, attached: false, exitCode: info?.exitCode ?? null, signal: info?.signal ?? null };
      }
      this.set({
        labId: lab.id,
        panes,
        phase: 'ready',
        message: null,
        tasks: changed ? null : this.state.tasks,
        picture: changed ? null : this.state.picture,
        closing: null,
      });
      await Promise.all([...this.terms.keys()].map((name) => this.attach(name)));
      this.noteOnAttach = null;
      const labId = lab.id;
      this.request<{ tasks?: TaskStatus[]; picture?: Picture }>({ type: 'watch', lab: labId })
        .then((w) => {
          if (this.state.labId !== labId) return;
          if (Array.isArray(w?.tasks)) this.set({ tasks: Object.fromEntries(w.tasks.map((t) => [t.id, t.status])) });
          if (w?.picture && Array.isArray(w.picture.processes)) this.set({ picture: w.picture });
          else return this.request<Picture>({ type: 'inspect', lab: labId }).then((p) => {
            if (this.state.labId === labId && p && Array.isArray(p.processes)) this.set({ picture: p });
          });
        })
        .catch(() => {});
    } catch (err) {
      if (ws !== this.ws) return;
      const e = err as AgentError;
      if (e.code === 'disconnected') return; // onclose schedules the reconnect
      if (e.code === 'limit') return this.scheduleReconnect('limit', e.message);
      if (e.code === 'unauthenticated') return this.set({ phase: 'unauthenticated' });
      this.set({ phase: 'error', message: e.message });
    }
  }

  private async attach(name: string) {
    const lab = this.state.labId;
    const t = this.terms.get(name);
    if (!lab || !t) return;
    // The same lab's stream, after a dropped connection: continue from what the terminal shows
    // (the agent sends just the missing bytes, or a snapshot when it no longer has them). A
    // terminal that shows nothing of this lab yet gets a snapshot, which redraws it from scratch.
    if (t.lab !== lab) t.feed.forget();
    const from = t.lab === lab ? t.feed.resumeFrom : undefined;
    const note = this.noteOnAttach;
    if (note) t.feed.afterNextSnapshot(() => t.hooks.note?.(note));
    t.lab = lab;
    try {
      const res = await this.request<AttachResult>({
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
      const e = err as AgentError;
      if (e.code === 'unknown-lab') {
        sessionStorage.removeItem(LAB_KEY(this.lesson));
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
        send: (chunk) => this.state.labId !== null && this.sendRaw({ type: 'input', lab: this.state.labId, pane, data: chunk }),
        request: (chunk) => this.request({ type: 'input', lab: this.state.labId, pane, data: chunk }),
      });
      this.inputs.set(pane, q);
    }
    return q.push(data);
  }

  /** A read-only link to this lab (`revoke`: make every earlier link invalid). */
  async share(revoke = false): Promise<string | null> {
    const lab = this.state.labId;
    if (!lab) throw new AgentError('disconnected', 'no lab');
    const res = await this.request<{ token?: string }>({ type: 'share', lab, ...(revoke ? { revoke: true } : {}) });
    return res?.token ?? null;
  }

  resize(pane: string, cols: number, rows: number) {
    const lab = this.state.labId;
    if (!lab || !this.state.panes[pane]?.attached) return;
    this.sendRaw({ type: 'resize', lab, pane, cols: Math.max(2, Math.min(1000, cols)), rows: Math.max(1, Math.min(500, rows)) });
  }

  async restart(pane: string) {
    const lab = this.state.labId;
    if (!lab) return;
    try {
      const info = await this.request<{ running: boolean; exitCode: number | null; signal: number | null }>({ type: 'restart', lab, pane });
      this.setPane(pane, { running: info.running, exitCode: info.exitCode, signal: info.signal });
      const t = this.terms.get(pane);
      if (t) this.sendRaw({ type: 'resize', lab, pane, cols: t.term.cols, rows: t.term.rows });
    } catch {
      /* the state line stays as it is */
    }
  }

  async check() {
    const lab = this.state.labId;
    if (!lab) return;
    this.set({ checking: true });
    try {
      const res = await this.request<unknown>({ type: 'check', lab });
      const list = Array.isArray(res) ? res : (res as { tasks?: unknown })?.tasks;
      if (Array.isArray(list)) this.set({ tasks: Object.fromEntries((list as TaskStatus[]).map((t) => [t.id, t.status])) });
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
      await this.request({ type: 'close', lab }).catch(() => {});
      sessionStorage.removeItem(LAB_KEY(this.lesson));
    }
    this.newLab();
  }

  /** After lab-closed: open a fresh lab. */
  newLab() {
    this.set({ labId: null, tasks: null, picture: null, closing: null });
    for (const q of this.inputs.values()) q.clear();
    for (const t of this.terms.values()) {
      t.feed.forget();
      t.lab = null;
      t.term.reset();
    }
    if (this.ws && this.ws.readyState === WebSocket.OPEN) void this.setupLab();
    else this.connect();
  }
}

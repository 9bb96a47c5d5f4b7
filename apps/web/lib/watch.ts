// The read-only viewer's side of the protocol (the watch page): redeems a read-only link's token
// (`view`), attaches every pane of that lab as a viewer (the writer's size, no input), watches its
// tasks and namespace picture, and after a dropped connection redeems the token again and resumes
// each pane from the offset its terminal shows.
import { PROTOCOL_VERSION, WS_PATH, decodeFrame, type AttachResult, type LabInfo, type Picture, type TaskStatus } from '@nslab/shared';
import { PaneFeed } from './feed';
import { AgentError, type PaneState, type TermHooks, type TermLike } from './session';

export type WatchPhase = 'no-link' | 'connecting' | 'opening' | 'live' | 'bad-link' | 'closed' | 'unreachable' | 'error';

export interface WatchState {
  phase: WatchPhase;
  lab: LabInfo | null;
  retryIn: number;
  message: string | null;
  panes: Record<string, PaneState>;
  tasks: Record<string, TaskStatus['status']> | null;
  picture: Picture | null;
}

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];

interface Viewer {
  term: TermLike;
  feed: PaneFeed;
  /** The lab whose stream the terminal shows. */
  lab: string | null;
}

export class WatchSession {
  state: WatchState;
  private ws: WebSocket | null = null;
  private nextId = 1;
  private pending = new Map<number, { resolve: (d: unknown) => void; reject: (e: AgentError) => void }>();
  private listeners = new Set<() => void>();
  private viewers = new Map<string, Viewer>();
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private tick: ReturnType<typeof setInterval> | null = null;
  private stopped = true;
  private generation = 0;

  constructor(private readonly token: string | null) {
    this.state = { phase: token ? 'connecting' : 'no-link', lab: null, retryIn: 0, message: null, panes: {}, tasks: null, picture: null };
  }

  subscribe = (fn: () => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };
  getState = () => this.state;
  private set(patch: Partial<WatchState>) {
    this.state = { ...this.state, ...patch };
    this.listeners.forEach((f) => f());
  }
  private setPane(name: string, patch: Partial<PaneState>) {
    const cur = this.state.panes[name] ?? { running: false, attached: false, exitCode: null, signal: null };
    this.set({ panes: { ...this.state.panes, [name]: { ...cur, ...patch } } });
  }

  start() {
    if (!this.token) return;
    this.stopped = false;
    window.addEventListener('online', this.wake);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.wake);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.tick) clearInterval(this.tick);
    this.generation++;
    this.ws?.close(1000, 'page closed');
    this.ws = null;
  }

  /** Start again after a failure ("Try again"). */
  retryNow() {
    if (!this.token) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.tick) clearInterval(this.tick);
    this.attempt = 0;
    this.generation++;
    this.ws?.close();
    this.ws = null;
    this.connect();
  }

  private wake = () => {
    if (this.state.phase === 'unreachable') this.retryNow();
  };

  // ---- the pane source TerminalPane needs (a viewer types nothing and sizes nothing) ----
  registerTerminal(name: string, term: TermLike, _hooks: TermHooks = {}) {
    const viewer: Viewer = {
      term,
      lab: null,
      feed: new PaneFeed(term, {
        follow: true,
        ack: (offset) => {
          if (viewer.lab) this.sendRaw({ type: 'ack', lab: viewer.lab, pane: name, offset });
        },
        gap: () => {
          if (this.viewers.get(name) === viewer) void this.attach(name);
        },
      }),
    };
    this.viewers.set(name, viewer);
    if (this.state.phase === 'live') void this.attach(name);
    return () => {
      if (this.viewers.get(name) === viewer) {
        viewer.feed.dispose();
        this.viewers.delete(name);
      }
    };
  }
  input(): boolean {
    return false;
  }
  resize() {}
  async restart() {}

  offsets(): Record<string, unknown> {
    return Object.fromEntries([...this.viewers].map(([name, v]) => [name, v.feed.offsets]));
  }

  // ---- the connection ----
  private connect() {
    if (this.stopped) return;
    const gen = ++this.generation;
    this.set({ phase: this.state.phase === 'unreachable' ? 'unreachable' : 'connecting', retryIn: 0 });
    let ws: WebSocket;
    try {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      ws = new WebSocket(`${proto}//${location.host}${WS_PATH}?v=${PROTOCOL_VERSION}`);
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
      this.set({ panes: Object.fromEntries(Object.entries(this.state.panes).map(([k, v]) => [k, { ...v, attached: false }])) });
      if (this.stopped) return;
      if (ev.code === 4002) return this.set({ phase: 'error', message: ev.reason || 'unsupported protocol version' });
      if (this.state.phase === 'bad-link' || this.state.phase === 'closed' || this.state.phase === 'error') return;
      this.scheduleReconnect();
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  private scheduleReconnect() {
    if (this.stopped) return;
    const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)]!;
    this.attempt++;
    const at = Date.now() + delay;
    this.set({ phase: 'unreachable', retryIn: Math.ceil(delay / 1000) });
    if (this.tick) clearInterval(this.tick);
    this.tick = setInterval(() => {
      const left = Math.max(0, Math.ceil((at - Date.now()) / 1000));
      if (left !== this.state.retryIn) this.set({ retryIn: left });
    }, 250);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (this.tick) clearInterval(this.tick);
      this.tick = null;
      this.connect();
    }, delay);
  }

  private sendRaw(msg: Record<string, unknown>) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(msg));
      return true;
    }
    return false;
  }

  private request<T = unknown>(msg: Record<string, unknown>): Promise<T> {
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
    const lab = this.state.lab?.id;
    switch (msg.type) {
      case 'hello':
        this.attempt = 0;
        void this.redeem();
        return;
      case 'result':
      case 'error': {
        const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
        if (!p) return;
        this.pending.delete(msg.id as number);
        if (msg.type === 'result') p.resolve(msg.data);
        else p.reject(new AgentError(String(msg.code), String(msg.message)));
        return;
      }
      case 'pane-size': {
        const v = msg.lab === lab ? this.viewers.get(String(msg.pane)) : undefined;
        if (v && typeof msg.cols === 'number' && typeof msg.rows === 'number') v.feed.resizeInBand(msg.cols, msg.rows);
        return;
      }
      case 'pane-exit':
        if (msg.lab === lab)
          this.setPane(String(msg.pane), { running: false, exitCode: (msg.exitCode as number | null) ?? null, signal: (msg.signal as number | null) ?? null });
        return;
      case 'pane-start':
        if (msg.lab === lab) this.setPane(String(msg.pane), { running: true, exitCode: null, signal: null });
        return;
      case 'lab-closed':
        if (msg.lab === lab) this.set({ phase: 'closed', message: String(msg.reason ?? '') });
        return;
      case 'tasks':
        if (msg.lab === lab && Array.isArray(msg.tasks)) this.set({ tasks: Object.fromEntries((msg.tasks as TaskStatus[]).map((t) => [t.id, t.status])) });
        return;
      case 'picture':
        if (msg.lab === lab && msg.picture) this.set({ picture: msg.picture as Picture });
        return;
    }
  }

  private onBinary(buf: Uint8Array) {
    const f = decodeFrame(buf);
    if (!f) return;
    const slash = f.key.indexOf('/');
    const lab = f.key.slice(0, slash);
    const v = this.viewers.get(f.key.slice(slash + 1));
    if (!v || v.lab !== lab || lab !== this.state.lab?.id) return;
    v.feed.frame(f);
  }

  /** Redeem the link on this connection, then attach and watch. */
  private async redeem() {
    const ws = this.ws;
    try {
      this.set({ phase: this.state.lab ? this.state.phase : 'opening' });
      const info = await this.request<LabInfo & { readOnly?: boolean }>({ type: 'view', token: this.token });
      if (ws !== this.ws) return;
      const panes: Record<string, PaneState> = {};
      for (const p of info.panes) panes[p.name] = { running: p.running, attached: false, exitCode: p.exitCode, signal: p.signal };
      this.set({ lab: info, panes, phase: 'live', message: null });
      await Promise.all([...this.viewers.keys()].map((name) => this.attach(name)));
      const w = await this.request<{ tasks?: TaskStatus[]; picture?: Picture | null }>({ type: 'watch', lab: info.id });
      if (Array.isArray(w?.tasks)) this.set({ tasks: Object.fromEntries(w.tasks.map((t) => [t.id, t.status])) });
      if (w?.picture && Array.isArray(w.picture.processes)) this.set({ picture: w.picture });
      else {
        const p = await this.request<Picture>({ type: 'inspect', lab: info.id });
        if (p && Array.isArray(p.processes)) this.set({ picture: p });
      }
    } catch (err) {
      if (ws !== this.ws) return;
      const e = err as AgentError;
      if (e.code === 'disconnected') return;
      if (e.code === 'bad-link' || e.code === 'unknown-lab') {
        this.set({ phase: 'bad-link', message: e.message });
        this.ws?.close(1000, 'bad link');
        return;
      }
      if (this.state.phase !== 'live') this.set({ phase: 'error', message: e.message });
    }
  }

  private async attach(name: string) {
    const lab = this.state.lab?.id;
    const v = this.viewers.get(name);
    if (!lab || !v) return;
    if (v.lab !== lab) v.feed.forget();
    const from = v.lab === lab ? v.feed.resumeFrom : undefined;
    v.lab = lab;
    try {
      const res = await this.request<AttachResult>({ type: 'attach', lab, pane: name, ...(from !== undefined ? { from } : {}) });
      // Resumed: the writer may have resized meanwhile (a snapshot carries its size itself).
      if (res.replay === 'resume') v.feed.resizeInBand(res.cols, res.rows);
      this.setPane(name, { attached: true, running: res.running });
    } catch (err) {
      const e = err as AgentError;
      if (e.code === 'unknown-lab' || e.code === 'bad-link') this.set({ phase: 'closed', message: e.message });
    }
  }
}

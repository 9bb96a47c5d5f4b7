// One WebSocket client: authenticates it, validates each message, routes it to the lab manager,
// and streams the panes it attached to. Bad input gets an error message; the connection and the
// agent carry on.
import type { WebSocket, RawData } from 'ws';
import {
  ClientMessage,
  PROTOCOL_VERSION,
  describeZodError,
  encodeOutputFrame,
  type ErrorCode,
  type Picture,
  type ServerMessage,
  type TaskStatus,
} from '@nslab/shared';
import type { LabManager } from '../sandbox/labs.js';
import { LimitError, UnknownLessonError } from '../sandbox/labs.js';
import type { Lab } from '../sandbox/lab.js';
import type { Pane } from '../sandbox/pane.js';
import { tokenMatches } from './auth.js';
import { takePicture } from '../inspect/picture.js';

type RequestId = string | number | null;

export class ClientError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Who is on the other end: the token holder (every lab), or a browser session (its own labs). */
export type Principal = { kind: 'token' } | { kind: 'session'; sid: string };

export class Connection {
  private authenticated: boolean;
  private attached = new Map<string, () => void>();
  private watching = new Map<string, () => void>();

  constructor(
    private readonly ws: WebSocket,
    private readonly manager: LabManager,
    private readonly token: string,
    private principal: Principal | null,
    private readonly log: (level: 'info' | 'warn', msg: string, extra?: Record<string, unknown>) => void,
  ) {
    this.authenticated = principal !== null;
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => this.detachAll());
    ws.on('error', () => this.detachAll());
    this.send({ type: 'hello', version: PROTOCOL_VERSION, authenticated: this.authenticated });
  }

  private send(msg: ServerMessage) {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private error(id: RequestId, code: ErrorCode, message: string) {
    this.send({ type: 'error', id, code, message });
  }

  private onMessage(data: RawData, isBinary: boolean) {
    if (isBinary) return this.error(null, 'bad-message', 'binary frames are not accepted from clients in protocol v1');
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString());
    } catch {
      return this.error(null, 'bad-json', 'the message is not valid JSON');
    }
    const id = rawId(raw);
    const parsed = ClientMessage.safeParse(raw);
    if (!parsed.success) return this.error(id, 'bad-message', describeZodError(parsed.error));
    const msg = parsed.data;
    if (msg.type === 'auth') {
      this.authenticated = tokenMatches(this.token, msg.token);
      if (this.authenticated) this.principal = { kind: 'token' };
      if (!this.authenticated) {
        this.error(msg.id ?? null, 'unauthenticated', 'wrong token');
        this.ws.close(4001, 'wrong token');
        return;
      }
      if (msg.id !== undefined) this.send({ type: 'result', id: msg.id, data: { authenticated: true } });
      return;
    }
    if (!this.authenticated) return this.error(id, 'unauthenticated', 'send {"type":"auth","token":...} first, or an Authorization header');
    this.handle(msg).then(
      (result) => {
        if (result !== undefined && 'id' in msg && msg.id !== undefined) this.send({ type: 'result', id: msg.id, data: result });
      },
      (err: unknown) => {
        const e = err as Error;
        const code: ErrorCode =
          err instanceof ClientError ? err.code : err instanceof LimitError ? 'limit' : err instanceof UnknownLessonError ? 'unknown-lesson' : 'failed';
        if (code === 'failed') this.log('warn', 'request failed', { type: msg.type, error: e.message });
        this.error(id, code, e.message);
      },
    );
  }

  /** The session's own id, or null for the token holder. */
  private get owner(): string | null {
    return this.principal?.kind === 'session' ? this.principal.sid : null;
  }

  private mayUse(lab: Lab): boolean {
    return this.principal?.kind === 'token' || (lab.owner !== null && lab.owner === this.owner);
  }

  private lab(id: string): Lab {
    const lab = this.manager.get(id);
    // Another session's lab is answered exactly like one that does not exist.
    if (!lab || !this.mayUse(lab)) throw new ClientError('unknown-lab', `no open lab ${id}`);
    return lab;
  }

  private pane(lab: Lab, name: string): Pane {
    const pane = lab.pane(name);
    if (!pane) throw new ClientError('unknown-pane', `lab ${lab.id} has no pane "${name}" (it has: ${[...lab.panes.keys()].join(', ')})`);
    return pane;
  }

  private async handle(msg: ClientMessage): Promise<unknown> {
    switch (msg.type) {
      case 'lessons':
        return this.manager.catalogue.list().map(({ def, titles }) => ({
          id: def.id,
          title: def.title,
          titles,
          panes: def.panes.map((p) => ({ name: p.name, unshare: p.unshare })),
        }));
      case 'open':
        return (await this.manager.open(msg.lesson, this.owner)).info();
      case 'list':
        return this.manager
          .list()
          .filter((l) => this.mayUse(l))
          .map((l) => l.info());
      case 'close': {
        this.lab(msg.lab);
        await this.manager.close(msg.lab);
        return { closed: true };
      }
      case 'exec': {
        const lab = this.lab(msg.lab);
        const pane = this.pane(lab, msg.pane);
        if (!pane.running) throw new ClientError('pane-not-running', `pane ${pane.name} has exited; restart it first`);
        return lab.exec(pane, msg.argv, {
          stdin: msg.stdin !== undefined ? Buffer.from(msg.stdin, 'base64') : undefined,
          timeoutMs: msg.timeoutMs,
        });
      }
      case 'attach': {
        const lab = this.lab(msg.lab);
        const pane = this.pane(lab, msg.pane);
        this.attach(lab, pane);
        pane.resize(msg.cols, msg.rows);
        return { attached: true, running: pane.running };
      }
      case 'detach': {
        this.attached.get(`${msg.lab}/${msg.pane}`)?.();
        return msg.id !== undefined ? { detached: true } : undefined;
      }
      case 'input': {
        const pane = this.pane(this.lab(msg.lab), msg.pane);
        if (!pane.running) throw new ClientError('pane-not-running', `pane ${pane.name} has exited`);
        pane.write(msg.data);
        return undefined;
      }
      case 'resize': {
        this.pane(this.lab(msg.lab), msg.pane).resize(msg.cols, msg.rows);
        return undefined;
      }
      case 'restart': {
        const lab = this.lab(msg.lab);
        const pane = this.pane(lab, msg.pane);
        await lab.startPane(pane);
        return pane.info();
      }
      case 'watch': {
        const lab = this.lab(msg.lab);
        this.watch(lab);
        return { tasks: lab.watcher?.tasks ?? [], picture: lab.watcher?.picture ?? null };
      }
      case 'unwatch': {
        this.watching.get(msg.lab)?.();
        return msg.id !== undefined ? { watching: false } : undefined;
      }
      case 'check': {
        const lab = this.lab(msg.lab);
        await lab.watcher?.tick();
        return { tasks: lab.watcher?.tasks ?? [] };
      }
      case 'inspect': {
        const lab = this.lab(msg.lab);
        return takePicture(lab);
      }
    }
  }

  private watch(lab: Lab) {
    if (this.watching.has(lab.id) || !lab.watcher) return;
    const w = lab.watcher;
    const onTasks = (tasks: TaskStatus[]) => this.send({ type: 'tasks', lab: lab.id, tasks });
    const onPicture = (picture: Picture) => this.send({ type: 'picture', lab: lab.id, picture });
    w.on('tasks', onTasks);
    w.on('picture', onPicture);
    const stop = w.watch();
    this.watching.set(lab.id, () => {
      w.off('tasks', onTasks);
      w.off('picture', onPicture);
      stop();
      this.watching.delete(lab.id);
    });
  }

  private attach(lab: Lab, pane: Pane) {
    const key = `${lab.id}/${pane.name}`;
    if (this.attached.has(key)) return;
    const onData = (chunk: Buffer) => {
      if (this.ws.readyState === this.ws.OPEN) this.ws.send(encodeOutputFrame(key, chunk), { binary: true });
    };
    const onExit = (exitCode: number | null, signal: number | null) =>
      this.send({ type: 'pane-exit', lab: lab.id, pane: pane.name, exitCode, signal });
    const onStart = () => this.send({ type: 'pane-start', lab: lab.id, pane: pane.name });
    const onClosed = (closed: Lab, reason: string) => {
      if (closed === lab) this.send({ type: 'lab-closed', lab: lab.id, reason });
    };
    // What the shell printed before this client came (a reload, a second tab): then live output.
    const recent = pane.recentOutput();
    if (recent.length) onData(recent);
    pane.on('data', onData);
    pane.on('exit', onExit);
    pane.on('start', onStart);
    this.manager.on('closed', onClosed);
    this.attached.set(key, () => {
      pane.off('data', onData);
      pane.off('exit', onExit);
      pane.off('start', onStart);
      this.manager.off('closed', onClosed);
      this.attached.delete(key);
    });
  }

  private detachAll() {
    for (const off of [...this.attached.values(), ...this.watching.values()]) off();
  }
}

function rawId(raw: unknown): RequestId {
  if (raw && typeof raw === 'object' && 'id' in raw) {
    const id = (raw as { id: unknown }).id;
    if (typeof id === 'number' || (typeof id === 'string' && id.length <= 64)) return id;
  }
  return null;
}

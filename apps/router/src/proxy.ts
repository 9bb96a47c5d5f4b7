// Proxying to agents with http-proxy-3 (docs/decisions/0005-router.md): plain HTTP and WebSocket
// upgrades. The Host header goes on as the browser sent it (the agent checks Host and Origin
// against its public names); X-Forwarded-For gets the client's address appended, and
// X-Forwarded-Proto says how it reached the first proxy. Responses carry X-Nslab-Agent: which
// agent answered (for people reading logs, and for the tests).
//
// A proxied WebSocket is two piped sockets, with one addition: when the agent's side ends or
// fails without the agent having closed the WebSocket itself (it was killed, its machine
// went), the browser is told with 4410 and a sentence, at a frame boundary (frames.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { AgentState } from './health.js';
import { CLOSE, type Refuser } from './refuse.js';
import { FrameBoundaries, closeFrame } from './frames.js';

export const AGENT_HEADER = 'x-nslab-agent';
/** Close code and reason when the agent chosen for a new lab did not take the connection. */
export const RETRY = { code: 1013, reason: 'the machine chosen for your lab did not answer; try again' } as const;
/** Close code when the router itself stops: the page reconnects (to another router replica). */
export const RESTART = { code: 1012, reason: 'the router is restarting; reconnecting' } as const;

type Log = (level: 'info' | 'warn', msg: string, extra?: Record<string, unknown>) => void;

interface WsState {
  agent: AgentState;
  forLab: boolean;
  upgraded: boolean;
  told: boolean;
  frames: FrameBoundaries;
  client: Duplex;
}

/** Errors that mean the agent is not there (as opposed to a request that went wrong). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE']);

function forwardHeaders(req: IncomingMessage) {
  const address = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  req.headers['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${address}` : address;
  // The first proxy knows how the browser came in (a TLS load balancer in front says https).
  if (!req.headers['x-forwarded-proto']) req.headers['x-forwarded-proto'] = (req.socket as Socket & { encrypted?: boolean }).encrypted ? 'https' : 'http';
  if (!req.headers['x-forwarded-host'] && req.headers.host) req.headers['x-forwarded-host'] = req.headers.host;
}

export class AgentProxy {
  private readonly proxy = createProxyServer({ ws: true, xfwd: false, changeOrigin: false });
  private readonly webAgents = new WeakMap<IncomingMessage, AgentState>();
  private readonly wsStates = new WeakMap<IncomingMessage, WsState>();
  private readonly byAgentSocket = new WeakMap<Socket, WsState>();
  /** Open proxied WebSockets (the browser's side), for a clean stop. */
  readonly open = new Map<Duplex, WsState>();

  constructor(
    private readonly refuser: Refuser,
    private readonly markDown: (agent: AgentState, why: string) => void,
    private readonly log: Log,
  ) {
    // http-proxy-3 reports some failures on the proxy itself, not to the callback: a browser's
    // socket reset under an open WebSocket (ECONNRESET), say. With no listener of ours, it would
    // throw them, and one browser's reset would stop the router for everyone.
    this.proxy.on('error', (err, _req, res) => {
      const code = (err as NodeJS.ErrnoException).code ?? err.message;
      if (!UNREACHABLE.has(code)) this.log('warn', 'a proxied connection failed', { why: code });
      if (res && 'destroy' in res) res.destroy();
    });
    this.proxy.on('proxyRes', (proxyRes, req) => {
      const agent = this.webAgents.get(req);
      if (agent?.self) proxyRes.headers[AGENT_HEADER] = agent.self.id;
    });
    this.proxy.on('proxyReqWs', (proxyReq, req) => {
      const st = this.wsStates.get(req);
      if (!st) return;
      // Added before http-proxy-3's own listener: this runs first, before the sockets are piped.
      proxyReq.on('upgrade', (proxyRes: IncomingMessage, agentSocket: Socket) => {
        st.upgraded = true;
        if (st.agent.self) proxyRes.headers[AGENT_HEADER] = st.agent.self.id;
        this.open.set(st.client, st);
        this.byAgentSocket.set(agentSocket, st);
        st.client.once('close', () => this.open.delete(st.client));
        // Before the pipe ends the browser's socket: say why, unless the agent closed it itself.
        agentSocket.once('end', () => this.tell(st));
        agentSocket.once('close', () => this.tell(st));
      });
    });
    // Only once the sockets are piped may anything else read the agent's side: a 'data' listener
    // added before would set it flowing, and the bytes that came with the 101 (the agent's hello,
    // put back with unshift) would go to that listener alone, never to the browser.
    this.proxy.on('open', (agentSocket: Socket) => {
      const st = this.byAgentSocket.get(agentSocket);
      if (st) agentSocket.on('data', (chunk: Buffer) => st.frames.feed(chunk));
    });
  }

  private tell(st: WsState, why: { code: number; reason: string } = CLOSE.gone) {
    if (st.told || st.frames.closed) return;
    st.told = true;
    if (st.client.writable && st.frames.atBoundary) st.client.write(closeFrame(why.code, why.reason));
  }

  web(req: IncomingMessage, res: ServerResponse, agent: AgentState) {
    forwardHeaders(req);
    this.webAgents.set(req, agent);
    this.proxy.web(req, res, { target: agent.url }, (err) => {
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (UNREACHABLE.has(code) && !res.headersSent) this.markDown(agent, code);
      this.log('warn', 'a request to an agent failed', { url: agent.url, path: req.url?.split('?')[0], why: code || err.message });
      if (res.headersSent) return void res.destroy();
      res.writeHead(502, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ error: 'agent-unreachable', message: 'the nslab machine for this request did not answer; try again in a moment' }));
    });
  }

  /** `forLab`: the connection names a lab (it cannot go elsewhere if the agent fails). */
  ws(req: IncomingMessage, socket: Duplex, head: Buffer, agent: AgentState, forLab: boolean) {
    forwardHeaders(req);
    const st: WsState = { agent, forLab, upgraded: false, told: false, frames: new FrameBoundaries(), client: socket };
    this.wsStates.set(req, st);
    this.proxy.ws(req, socket, head, { target: agent.url }, (err) => {
      const code = (err as NodeJS.ErrnoException).code ?? err.message;
      if (st.upgraded) {
        // The agent's side failed under an open WebSocket (a reset: the agent was killed).
        this.tell(st);
        return;
      }
      if (UNREACHABLE.has(code)) this.markDown(agent, code);
      this.log('warn', 'an agent did not take a WebSocket', { url: agent.url, why: code });
      // http-proxy-3 has already put `head` back into the socket: it is not given again.
      this.refuser.refuse(req, socket, Buffer.alloc(0), forLab ? CLOSE.gone : RETRY);
    });
  }

  /** The router stops: every browser is told to reconnect (it reaches another replica). */
  closeAll() {
    for (const [client, st] of this.open) {
      this.tell(st, RESTART);
      client.end();
    }
  }

  /** Whatever did not close after closeAll: gone now. */
  destroyAll() {
    for (const client of this.open.keys()) client.destroy();
  }
}

// The agent as a library: one HTTP server on one port with /healthz, the WebSocket API at
// /api/ws, and (optionally) the web app for every other path.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { WebSocketServer } from 'ws';
import pino from 'pino';
import { MAX_CLIENT_MESSAGE_BYTES, type ServerMessage } from '@nslab/shared';
import type { AgentConfig } from '../config.js';
import { LabManager } from '../sandbox/labs.js';
import { CONTENT_KEY, Catalogue } from '../lessons/catalogue.js';
import { formatProblem } from '@nslab/shared/content';
import { LabWatchers } from '../lessons/watchers.js';
import type { ConnectionContext } from './connection.js';
import { Shares } from './share.js';
import { Presence } from './presence.js';
import { KeyedBuckets } from './rate.js';
import { Metrics } from './metrics.js';
import { Sessions, sameOrigin } from './session.js';
import { setupToken } from './auth.js';
import { hostCheck } from './hosts.js';
import { httpHandler } from './http.js';
import { upgradeHandler } from './upgrade.js';
import { WEB_DIR } from '../paths.js';
import type { WebHandler } from './web.js';
import { openStore, type Store } from '../store/index.js';
import { ProgressRecorder } from './progress.js';
import { Workshops } from '../workshops/workshops.js';
import { WorkshopWarmer } from './warming.js';
import { Recordings } from './recordings.js';
import { Takeovers } from './takeovers.js';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { EmbedSessions } from './embed.js';
import { apiV1 } from './api-v1.js';
import { launchHandler } from './launch-http.js';
import { serveRecordings } from './casts-http.js';
import { serveEmbedScript } from './embed-script.js';
import { Outbox } from '../portal/outbox.js';
import { Webhooks } from '../portal/webhooks.js';
import { PortalActivity } from '../portal/activity.js';
import { Pruner } from '../portal/prune.js';
import { LtiTool } from '../lti/index.js';
import { serveLti } from './lti-http.js';
import { ClusterMember } from './cluster.js';
import { clientAddress } from './address.js';
import { SessionLabs } from './session-labs.js';
import { postgresNotifier } from '../store/notify.js';
import { WorkshopRelay } from '../workshops/relay.js';
import { followWorkshopLabs } from './workshop-labs.js';

/** Every client is pinged this often: nothing in front (a router, a load balancer) sees an idle WebSocket. */
const PING_MS = 25_000;

export interface RunningAgent {
  url: string;
  port: number;
  token: string;
  tokenFile: string | null;
  manager: LabManager<Catalogue>;
  watchers: LabWatchers;
  store: Store;
  server: Server;
  /** Draining (docs/router.md): resolves once a drain is over and the agent has closed, with why. */
  drained: Promise<string>;
  close(): Promise<void>;
}

/** Leave the catalogue where the web app of this process finds it (apps/web/lib/content.ts). */
function publishContent(catalogue: Catalogue) {
  Object.defineProperty(globalThis, CONTENT_KEY, { configurable: true, get: () => catalogue.content() });
}

/** `pingMs`: how often clients are pinged (tests shorten it). */
export async function startAgent(config: AgentConfig, opts: { quiet?: boolean; pingMs?: number } = {}): Promise<RunningAgent> {
  const log = pino({ level: opts.quiet ? 'warn' : config.logLevel, base: { svc: 'nslab-agent' } });
  const { token, file: tokenFile } = setupToken(config.stateDir, config.token);
  // The store first: an agent that cannot keep its learners' progress says so and does not start.
  const store = await openStore(config.databaseUrl ? { url: config.databaseUrl } : { dir: config.dataDir }, {
    onBackgroundError: (err) => log.warn({ error: err.message }, 'the store reported an error'),
  });
  log.info({ store: store.where, engine: store.engine }, 'store open');
  // Watching, the agent starts even on lessons with mistakes: their pages show them until they are fixed.
  const catalogue = config.lessonsWatch ? Catalogue.tolerant(config.contentDirs) : Catalogue.load(config.contentDirs);
  // The web app runs in this process and renders the lessons from what the agent has loaded.
  publishContent(catalogue);
  if (config.lessonsWatch) {
    catalogue.watch();
    log.info({ dirs: config.contentDirs }, 'watching the lessons: a changed file reloads them');
  }
  // What portals are owed (webhooks, grades) waits in the store's outbox until delivered.
  const outbox = new Outbox(store, (msg, extra) => log.warn(extra, msg), { baseDelayMs: config.webhooks.retryBaseMs });
  const webhooks = new Webhooks(store, outbox);
  const activity = new PortalActivity(
    store,
    webhooks,
    (id) => catalogue.get(id)?.tasks.map((t) => t.id),
    (msg, extra) => log.warn(extra, msg),
  );
  // With watching on, no labs are made ahead per lesson: they would have the panes a lesson had before its file changed.
  const managerConfig = config.lessonsWatch ? { ...config, warmPerLesson: 0 } : config;
  const manager = new LabManager(managerConfig, catalogue, (level, msg, extra) => log[level](extra ?? {}, msg));
  await manager.start();
  // A task done for the first time in a lab is the learner's progress, kept for their session.
  const progress: ProgressRecorder = new ProgressRecorder(
    store,
    (labId, level, message) => watchers.notify(labId, level, message),
    (msg, extra) => log.warn(extra, msg),
  );
  // LMSs over LTI 1.3: their learners' tasks become grades, sent from the same outbox.
  const lti = new LtiTool({ store, platforms: config.lti.platforms, outbox });
  activity.onTaskDone = (facts) => lti.taskDone(facts);
  progress.onFirst = (session, lesson, task, at) => void activity.taskDone(session, lesson, task, at);
  const workshops = new Workshops(store, (id) => catalogue.get(id) !== undefined);
  // Agents sharing one PostgreSQL hear each other's workshop events through it (a room whose
  // learners sit on several agents); an embedded store has no other agent to hear.
  const notifier = config.databaseUrl ? postgresNotifier(config.databaseUrl, (msg, extra) => log.warn(extra ?? {}, msg)) : null;
  const relay = notifier ? new WorkshopRelay(workshops, notifier) : null;
  // A workshop's actions on its learners' labs here, from this agent's dashboards or another's.
  const unfollowWorkshopLabs = followWorkshopLabs(workshops, manager, (msg, extra) => log.warn(extra, msg));
  const watchers: LabWatchers = new LabWatchers(
    (id) => catalogue.get(id)?.tasks,
    (labId, lesson, task) => {
      const owner = manager.get(labId)?.owner;
      if (!owner) return;
      recordings.marker(labId, task);
      // Recorded first: the dashboard asks the store once it hears of the change.
      void progress.record(labId, owner, lesson, task).then(() => workshops.touchSession(owner));
    },
  );
  const takeovers = new Takeovers();
  const labLimits = new Map<string, 'memory' | 'pids'>();
  manager.on('limit', (lab, which) => {
    labLimits.set(lab.id, which);
    if (lab.owner) workshops.touchSession(lab.owner);
  });
  // A closed lab: everything kept about it goes, and its learner's room hears of it.
  manager.on('closed', (lab, reason) => {
    if (lab.owner) activity.labClosed(lab.owner, lab.id, lab.lesson?.id ?? '', reason);
    watchers.forget(lab.id);
    takeovers.labClosed(lab.id);
    labLimits.delete(lab.id);
    if (lab.owner) workshops.touchSession(lab.owner);
  });
  manager.on('opened', (lab) => {
    if (lab.owner) activity.labOpened(lab.owner, lab.id, lab.lesson?.id ?? '');
    if (lab.owner) workshops.touchSession(lab.owner);
  });

  let web: WebHandler | null = null;
  if (config.web) {
    const { createWebHandler } = await import('./web.js');
    web = await createWebHandler({ dir: WEB_DIR, dev: config.dev, hostname: config.host, port: config.port, quiet: true });
  }

  const recordings: Recordings = new Recordings(
    join(config.dataDir, 'recordings'),
    workshops,
    manager,
    config.recordings.maxBytesPerPane,
    config.recordings.retentionMs,
    (msg, extra) => log.warn(extra, msg),
  );
  recordings.start();
  const warmer = new WorkshopWarmer(workshops, manager, (msg, extra) => log.warn(extra, msg));
  warmer.start();
  const sessionKey = Buffer.from(await store.ensureSecret('session-key', () => randomBytes(32).toString('hex')), 'hex');
  const sessions = new Sessions(sessionKey);
  // A portal's learners: their embed sessions, framed by (and posting to) their portal's origins.
  const embeds = new EmbedSessions(sessionKey, store, async (source) => {
    if (source.startsWith('lti:')) {
      // Every platform has its issuer's origin: none means it is no longer configured.
      const origins = lti.origins(source);
      return origins.length ? origins : null;
    }
    if (source.startsWith('key:')) {
      const key = await store.portal.apiKey(source.slice(4));
      return key && !key.revokedAt ? key.origins : null;
    }
    return null;
  });
  outbox.start();
  const pruner = new Pruner(store, (msg, extra) => log.warn(extra, msg));
  pruner.start();
  const presence = new Presence(manager, config.graceMs, (msg, extra) => log.info(extra, msg));
  presence.onChange = (labId) => {
    sessionLabs?.changed(labId);
    const owner = manager.get(labId)?.owner;
    if (owner) workshops.touchSession(owner);
  };
  const metrics = config.metrics ? new Metrics(manager, () => presence.waiting) : null;
  // Wrong tokens per address: a guesser is refused for a while (each guess costs a connection).
  const authFailures = new KeyedBuckets(20, 1 / 3);
  const addressOf = clientAddress(config.trustedProxies);
  // With a shared store, every agent's dashboards see which lab each learner holds, on any agent.
  const sharedAgentId = config.databaseUrl ? config.cluster.agentId : null;
  const sessionLabs = sharedAgentId ? new SessionLabs(store, manager, presence, sharedAgentId, (msg, extra) => log.warn(extra, msg)) : null;
  sessionLabs?.start();
  const ctx: ConnectionContext = {
    addressOf,
    sharedAgentId,
    authFailures,
    manager,
    watchers,
    store,
    token,
    shares: new Shares(config.cluster.key),
    workshops,
    recordings,
    takeovers,
    webhooks,
    labLimits,
    // Every try counts, right or wrong: a room behind one NAT joins at once, a guesser is slowed down.
    joinsPerAddress: new KeyedBuckets(config.rates.joins.burst, config.rates.joins.perMinute / 60),
    helpPerSession: new KeyedBuckets(3, 1 / 20),
    presence,
    rates: config.rates,
    opensPerSession: new KeyedBuckets(config.rates.opens.burst, config.rates.opens.perMinute / 60),
    opensPerAddress: new KeyedBuckets(config.rates.opensPerAddress.burst, config.rates.opensPerAddress.perMinute / 60),
    log: (level, msg, extra) => log[level](extra ?? {}, msg),
    metrics,
  };
  // Pages of these origins may open a WebSocket: the agent's own, and those configured.
  const originAllowed = (req: IncomingMessage) => sameOrigin(req) || config.allowedOrigins.includes(req.headers.origin ?? '');
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_MESSAGE_BYTES });
  // A reload: the watchers of open labs check the new tasks, and every page hears of it (a lesson
  // page fetches its text again; the panes of an open lab stay as they were made).
  catalogue.on('changed', (change) => {
    watchers.retask(change.changed);
    for (const p of change.problems) log.warn({ problem: formatProblem(p) }, 'a lesson file has a problem');
    log.info({ generation: change.generation, changed: change.changed, problems: change.problems.length }, 'lessons reloaded');
    const msg: ServerMessage = { type: 'lessons-changed', generation: change.generation, lessons: change.changed, problems: change.problems.length };
    const text = JSON.stringify(msg);
    for (const ws of wss.clients) if (ws.readyState === ws.OPEN) ws.send(text);
  });
  // Before anything else, every request and upgrade: a Host the agent does not know gets nothing.
  const hostAllowed = hostCheck(config.allowedHosts, config.host);
  const logWarn = (msg: string, extra: Record<string, unknown>) => log.warn(extra, msg);
  const routes = [
    (req: IncomingMessage, res: ServerResponse, path: string) => serveRecordings(req, res, path, recordings),
    apiV1({
      store,
      manager,
      activity,
      sessionFor: (source, user) => embeds.sessionFor(source, user),
      perKey: new KeyedBuckets(config.rates.api.burst, config.rates.api.perMinute / 60),
      authFailures,
      publicUrl: config.publicUrl,
      sharedAgentId,
      addressOf,
      log: logWarn,
    }),
    launchHandler({ store, catalogue, embeds, activity, log: logWarn }),
    (req: IncomingMessage, res: ServerResponse, path: string) =>
      serveLti(req, res, path, {
        lti,
        catalogue,
        embeds,
        activity,
        publicUrl: config.publicUrl,
        loginsPerAddress: new KeyedBuckets(120, 2),
        addressOf,
        log: logWarn,
      }),
    serveEmbedScript,
  ];
  let url = '';
  let resolveDrained: (why: string) => void = () => {};
  const drained = new Promise<string>((r) => (resolveDrained = r));
  const member = new ClusterMember(
    config,
    manager,
    () => url,
    (why) => {
      log.info({ why }, 'drained: closing');
      // A moment first: the answer to the request that closed the last lab reaches its client.
      setTimeout(() => void close().then(() => resolveDrained(why)), 200);
    },
  );
  routes.unshift((req: IncomingMessage, res: ServerResponse, path: string) => member.route(req, res, path, token));
  const server = createServer(httpHandler({ config, store, manager, token, metrics, sessions, web, hostAllowed, embeds, routes, member }));
  server.on('upgrade', upgradeHandler({ ctx, wss, sessions, embeds, web, hostAllowed, originAllowed }));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  log.info({ url, tokenFile: tokenFile ?? '(NSLAB_TOKEN)', agent: member.self() }, 'nslab agent listening');

  // A client that has not answered the last ping (a sleeping laptop, a dead link) is let go: its
  // lab waits for it for the grace period, as after any disconnect.
  const unanswered = new WeakSet<object>();
  const heard = new WeakSet<object>();
  const pinger = setInterval(() => {
    for (const ws of wss.clients) {
      if (!heard.has(ws)) {
        heard.add(ws);
        ws.on('pong', () => unanswered.delete(ws));
      }
      if (unanswered.has(ws)) {
        ws.terminate();
        continue;
      }
      unanswered.add(ws);
      ws.ping();
    }
  }, opts.pingMs ?? PING_MS);
  pinger.unref();

  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= (async () => {
      clearInterval(pinger);
      member.stop();
      catalogue.unwatch();
      presence.stop();
      warmer.stop();
      pruner.stop();
      // Labs are told first (in their panes and to their clients), then closed.
      const labs = manager.list();
      if (labs.length && config.shutdownNoticeMs > 0) {
        for (const lab of labs) {
          lab.notice(`nslab is stopping: this lab closes in ${Math.ceil(config.shutdownNoticeMs / 1000)} s.`);
          manager.emit('closing', lab, 'the agent is stopping', config.shutdownNoticeMs);
        }
        await new Promise((r) => setTimeout(r, config.shutdownNoticeMs));
      }
      for (const ws of wss.clients) ws.close(1001, 'the agent is stopping');
      await manager.stop();
      await recordings.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await web?.close();
      progress.stop();
      await activity.settle();
      await outbox.stop();
      relay?.stop();
      unfollowWorkshopLabs();
      sessionLabs?.stop();
      await notifier?.close();
      await store.close();
    })();
    return closing;
  };
  return { url, port, token, tokenFile, manager, watchers, store, server, drained, close };
}

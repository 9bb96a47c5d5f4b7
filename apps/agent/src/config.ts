// The agent's settings, described once: the SETTINGS table below gives each its key in the
// configuration file, its environment variable, its default, its type (zod) and a line of doc.
// That one table drives loading and checking both sources, the example file
// (deploy/nslab.example.yaml, which a test compares with exampleYaml()) and the README's table
// (checked by the same test). Layers: embedded defaults, then the configuration file (YAML,
// named by NSLAB_CONFIG), then environment variables, then what the code that starts the agent
// passes (tests, the bench). A wrong value from either source stops the agent with the key and
// the reason.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SHIPPED_LESSONS, resolveContentDirs } from '@nslab/shared/content';
import { REPO_ROOT } from './paths.js';
import { LtiPlatforms, type LtiPlatform } from './lti/platforms.js';
import { AGENT_ID, MIN_CLUSTER_KEY_CHARS, clusterKey } from '@nslab/shared/cluster';
import { hostname as osHostname } from 'node:os';
import { isIP } from 'node:net';

export interface AgentConfig {
  /** Names this agent's cgroups and state directory, so two agents on one host stay apart. */
  instance: string;
  host: string;
  port: number;
  /** Where the agent keeps its token and the labs' staging directories. */
  stateDir: string;
  /** Where durable data lives (the embedded store), kept across restarts and reboots. */
  dataDir: string;
  /** A PostgreSQL URL for the store instead of the embedded one (several agents may share it). */
  databaseUrl: string | null;
  token: string | null;
  /** Lesson files: <dir>/<lang>/<id>.md, in each of these directories (merged; an id used twice is an error). */
  contentDirs: string[];
  /** Watch the content directories and reload the lessons when a file changes. */
  lessonsWatch: boolean;
  /** Read-only lower layer of every lab's root filesystem. */
  rootfsLower: string;
  /** First host uid/gid handed to labs; lab n owns [idBase + n * idsPerLab, ... + idsPerLab). */
  idBase: number;
  idsPerLab: number;
  maxLabs: number;
  /** Labs one browser session may hold; opening one more closes its oldest. */
  labsPerSession: number;
  /** Labs all browser sessions from one client address may hold (0: no cap). */
  labsPerAddress: number;
  /** Labs made ahead of time so that opening one takes only its panes' start. */
  warmLabs: number;
  /** Labs per lesson made ahead of time with their panes at the prompt: opening one takes nothing. */
  warmPerLesson: number;
  limits: {
    memoryMb: number;
    pids: number;
    cpuPercent: number;
    rootSizeMb: number;
    tmpSizeMb: number;
    nofile: number;
    /** PTYs a lab's /dev/pts may hold at once, its panes' included. */
    ptys: number;
  };
  /** Time offsets of every lab's own time namespace (seconds). */
  timeOffsets: { monotonic: number; boottime: number };
  hostname: string;
  /** Extra paths hidden from labs, beyond the built-in list. */
  maskPaths: string[];
  /** Workshop recordings: how long they are kept, and the most one pane's may take. */
  recordings: { retentionMs: number; maxBytesPerPane: number };
  /** How long a lab waits for its client to come back after the last one left (ms). */
  graceMs: number;
  /** A lab closes after this long without input (0: never), and this long after it opened. */
  idleMs: number;
  maxLifetimeMs: number;
  /** The learner is warned this long before either. */
  warnMs: number;
  /** Per-client rates: messages and input bytes per connection, labs opened per session/address. */
  rates: {
    messages: { burst: number; perSecond: number };
    inputBytes: { burst: number; perSecond: number };
    /** Labs opened per browser session, and per client address (all its sessions). */
    opens: { burst: number; perMinute: number };
    opensPerAddress: { burst: number; perMinute: number };
    /** Workshop join codes and instructor keys tried per client address, right or wrong. */
    joins: { burst: number; perMinute: number };
    /** Portal API requests per key. */
    api: { burst: number; perMinute: number };
  };
  /** Origins (scheme://host:port) besides the agent's own whose pages may open a WebSocket. */
  allowedOrigins: string[];
  /**
   * Host names the agent answers to besides IP addresses and localhost (its public name behind a
   * proxy, say); any other Host header is refused with 421, against DNS rebinding.
   */
  allowedHosts: string[];
  /** Proxies (addresses or CIDR ranges) whose X-Forwarded-For names the client (server/address.ts). */
  trustedProxies: string[];
  /** The agent's URL as browsers reach it (for launch links), or null: from each request's Host. */
  publicUrl: string | null;
  /** Webhook deliveries: the first retry's delay (each next one doubles, at most an hour). */
  webhooks: { retryBaseMs: number };
  /** LTI 1.3 platforms (LMSs) that may launch lessons. */
  lti: { platforms: LtiPlatform[] };
  /** Serve /metrics (Prometheus text, token required). */
  metrics: boolean;
  /** On shutdown, labs are told and given this long before they close (ms). */
  shutdownNoticeMs: number;
  web: boolean;
  dev: boolean;
  logLevel: string;
  /** Several agents behind a router (docs/router.md): who this agent is, where it is reached, the key. */
  cluster: {
    agentId: string;
    /** The URL routers reach this agent at, or null: its own listen address. */
    advertiseUrl: string | null;
    /** The key agents and routers share; with it, lab ids name this agent and are signed. */
    key: Buffer | null;
    /** The release reported on /healthz (routers place labs only on agents of their own). */
    version: string;
    /** A drain closes the agent at the latest this long after it began (ms). */
    drainDeadlineMs: number;
  };
}

export class ConfigError extends Error {}

/** A DNS name (letters, digits, dots, hyphens), with an optional :port. */
export const HOST_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?(:\d{1,5})?$/;
const INSTANCE = /^[a-z][a-z0-9-]{0,30}$/;

/** How an environment variable's text becomes a value. */
type EnvKind = 'string' | 'number' | 'bool' | 'list' | 'paths' | 'json';

export interface Setting {
  /** Dotted path in the configuration file. */
  key: string;
  env: string;
  kind: EnvKind;
  type: z.ZodTypeAny;
  /** In the file's units; null: none (derived, or unset). */
  default: unknown;
  doc: string;
  /** What the example file says for a setting without a default. */
  example?: string;
}

const seconds = z
  .number()
  .min(0)
  .max(365 * 24 * 3600);
const positive = z.number().int().min(1);
const rate = z.number().positive();
const count = (max: number) => z.number().int().min(0).max(max);

/** The content setting: one directory or several, each absolute or the word `shipped` (the checkout's lessons). */
const contentEntry = z.string().refine((v) => v === SHIPPED_LESSONS || v.startsWith('/'), `an absolute directory, or ${SHIPPED_LESSONS}`);
const ContentDirs = z.union([contentEntry, z.array(contentEntry).min(1, 'at least one directory')]);

const s = (key: string, env: string, kind: EnvKind, type: z.ZodTypeAny, def: unknown, doc: string, example?: string): Setting => ({
  key,
  env,
  kind,
  type,
  default: def,
  doc,
  ...(example ? { example } : {}),
});

/** Every setting of the agent. */
export const SETTINGS: readonly Setting[] = [
  s('host', 'HOST', 'string', z.string().min(1), '127.0.0.1', 'listen address; keep 127.0.0.1 behind a reverse proxy'),
  s('port', 'PORT', 'number', z.number().int().min(0).max(65535), 3000, 'listen port'),
  s(
    'instance',
    'NSLAB_INSTANCE',
    'string',
    z.string().regex(INSTANCE, 'a short lowercase name'),
    'nslab',
    'names the cgroups and the state directory, so two agents on one host stay apart',
  ),
  s(
    'stateDir',
    'NSLAB_STATE_DIR',
    'string',
    z.string().startsWith('/'),
    null,
    'token file and lab staging directories (default /run/<instance>)',
    '/run/nslab',
  ),
  s(
    'dataDir',
    'NSLAB_DATA_DIR',
    'string',
    z.string().startsWith('/'),
    null,
    'durable data: the embedded store, root only (default /var/lib/<instance>)',
    '/var/lib/nslab',
  ),
  s(
    'databaseUrl',
    'NSLAB_DATABASE_URL',
    'string',
    z.string().regex(/^postgres(ql)?:\/\//, 'a postgres:// URL'),
    null,
    'a PostgreSQL database for the store instead of the embedded one (several agents may share it)',
    'postgres://nslab:...@db.example/nslab',
  ),
  s(
    'token',
    'NSLAB_TOKEN',
    'string',
    z.string().min(16, 'at least 16 characters'),
    null,
    'the API token (default: random, written to stateDir/token, mode 0600)',
    '...',
  ),
  s('rootfs', 'NSLAB_ROOTFS', 'string', z.string().startsWith('/'), '/', "read-only lower layer of every lab's root filesystem"),
  s(
    'content',
    'NSLAB_CONTENT',
    'paths',
    ContentDirs,
    null,
    'lesson directories, merged in course order; they replace the shipped lessons unless the list says shipped (colon-separated in the environment; default: content/lessons of the checkout)',
    '[shipped, /opt/nslab/lessons]',
  ),
  s(
    'lessonsWatch',
    'NSLAB_LESSONS_WATCH',
    'bool',
    z.boolean(),
    false,
    'reload the lessons when their files change, and open lesson pages with them (for writing lessons)',
  ),
  s('hostname', 'NSLAB_HOSTNAME', 'string', z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/, 'a host name'), 'nslab', 'hostname inside labs'),
  s('maskPaths', 'NSLAB_MASK_PATHS', 'paths', z.array(z.string().startsWith('/')), [], 'more host paths hidden from labs (colon-separated in the environment)'),
  s(
    'allowedOrigins',
    'NSLAB_ALLOWED_ORIGINS',
    'list',
    z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'scheme://host[:port], no path')),
    [],
    "other sites whose pages may connect, e.g. [https://portal.example]; the agent's own origin is always allowed",
  ),
  s(
    'allowedHosts',
    'NSLAB_ALLOWED_HOSTS',
    'list',
    z.array(z.string().regex(HOST_NAME, 'a host name, optionally with :port')),
    [],
    'host names the agent answers to besides its IP addresses and localhost, e.g. [labs.example.org] behind a proxy; any other Host gets 421',
  ),
  s(
    'trustedProxies',
    'NSLAB_TRUSTED_PROXIES',
    'list',
    z.array(z.string().refine(isAddressOrRange, 'an IP address or a CIDR range, e.g. 10.0.0.0/8')),
    [],
    'routers or reverse proxies in front, e.g. [10.0.0.0/8]: from them X-Forwarded-For names the client, for the limits per address',
  ),
  s(
    'publicUrl',
    'NSLAB_PUBLIC_URL',
    'string',
    z.string().regex(/^https?:\/\/[^/\s?#]+$/, 'scheme://host[:port], no path'),
    null,
    "the agent's URL as browsers reach it, for launch links (default: from each request's Host)",
    'https://labs.example.org',
  ),
  s('logLevel', 'LOG_LEVEL', 'string', z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info', 'trace, debug, info, warn, error'),
  s('web', 'NSLAB_WEB', 'bool', z.boolean(), true, 'serve the web app (0: the API only)'),
  s('dev', 'NSLAB_DEV', 'bool', z.boolean(), false, 'serve the web app from source with Next.js in development mode'),
  s('metrics', 'NSLAB_METRICS', 'bool', z.boolean(), true, '/metrics (it needs the token in any case)'),
  s('shutdownNoticeSeconds', 'NSLAB_SHUTDOWN_NOTICE_S', 'number', seconds, 1, 'labs are told this long before a shutdown closes them'),
  s('ids.base', 'NSLAB_ID_BASE', 'number', z.number().int().min(65536), 100000, 'first host uid/gid given to labs'),
  s('ids.perLab', 'NSLAB_IDS_PER_LAB', 'number', z.number().int().min(65536), 65536, "uids/gids per lab (its user namespace's map)"),
  s('labs.max', 'NSLAB_MAX_LABS', 'number', positive, 256, 'labs open at once; beyond it, "come back later"'),
  s('labs.warm', 'NSLAB_WARM_LABS', 'number', count(64), 2, 'labs made ahead of time (namespaces, root, init)'),
  s('labs.warmPerLesson', 'NSLAB_WARM_PER_LESSON', 'number', count(16), 1, 'per lesson, labs made ahead with their shells at the prompt'),
  s('labs.perSession', 'NSLAB_LABS_PER_SESSION', 'number', positive, 3, "a browser's oldest lab closes when it opens one more"),
  s(
    'labs.perAddress',
    'NSLAB_LABS_PER_ADDRESS',
    'number',
    z.number().int().min(0),
    64,
    'labs all sessions from one address may hold (0: no cap; raise it behind a proxy)',
  ),
  s('labs.graceSeconds', 'NSLAB_GRACE_S', 'number', seconds, 300, 'a lab waits this long for its page to come back'),
  s('labs.idleSeconds', 'NSLAB_IDLE_S', 'number', seconds, 1800, 'closed after this long without typing (0: never)'),
  s('labs.maxLifetimeSeconds', 'NSLAB_MAX_LIFETIME_S', 'number', seconds, 4 * 3600, 'closed this long after it opened (0: never)'),
  s('labs.warnSeconds', 'NSLAB_WARN_S', 'number', seconds, 60, 'the learner is warned this long before either'),
  s('limits.memoryMb', 'NSLAB_LAB_MEMORY_MB', 'number', positive, 512, 'memory per lab'),
  s('limits.pids', 'NSLAB_LAB_PIDS', 'number', positive, 256, 'processes per lab'),
  s('limits.cpuPercent', 'NSLAB_LAB_CPU_PERCENT', 'number', positive, 100, 'CPU per lab (100 = one core)'),
  s('limits.diskMb', 'NSLAB_LAB_DISK_MB', 'number', positive, 256, 'writable layer of the root filesystem'),
  s('limits.tmpMb', 'NSLAB_LAB_TMP_MB', 'number', positive, 64, '/tmp, /run, /root'),
  s('limits.nofile', 'NSLAB_LAB_NOFILE', 'number', positive, 4096, 'open files per process'),
  s('limits.ptys', 'NSLAB_LAB_PTYS', 'number', z.number().int().min(4).max(4096), 32, "terminals the lab's /dev/pts holds at once, its panes' included"),
  s('time.monotonicSeconds', 'NSLAB_TIME_MONOTONIC_S', 'number', z.number().int(), 0, "offset of every lab's monotonic clock"),
  s('time.boottimeSeconds', 'NSLAB_TIME_BOOTTIME_S', 'number', z.number().int(), 0, "offset of every lab's boot-time clock"),
  s('rates.messagesBurst', 'NSLAB_RATE_MESSAGES_BURST', 'number', rate, 2000, 'messages per connection at once...'),
  s('rates.messagesPerSecond', 'NSLAB_RATE_MESSAGES_PER_S', 'number', rate, 1000, '...then per second'),
  s('rates.inputBurst', 'NSLAB_RATE_INPUT_BURST', 'number', rate, 4 * 1024 * 1024, 'bytes typed/pasted per connection at once...'),
  s('rates.inputPerSecond', 'NSLAB_RATE_INPUT_PER_S', 'number', rate, 1024 * 1024, '...then per second'),
  s('rates.opensBurst', 'NSLAB_RATE_OPENS_BURST', 'number', rate, 10, 'labs opened per browser session at once...'),
  s('rates.opensPerMinute', 'NSLAB_RATE_OPENS_PER_MIN', 'number', rate, 10, '...then per minute'),
  s('rates.addressOpensBurst', 'NSLAB_RATE_ADDRESS_OPENS_BURST', 'number', rate, 60, 'labs opened per client address at once...'),
  s('rates.addressOpensPerMinute', 'NSLAB_RATE_ADDRESS_OPENS_PER_MIN', 'number', rate, 60, '...then per minute'),
  s(
    'rates.joinsBurst',
    'NSLAB_RATE_JOINS_BURST',
    'number',
    rate,
    120,
    'workshop join codes and instructor keys tried per client address at once (a room behind one NAT)...',
  ),
  s('rates.joinsPerMinute', 'NSLAB_RATE_JOINS_PER_MIN', 'number', rate, 30, '...then per minute'),
  s('rates.apiBurst', 'NSLAB_RATE_API_BURST', 'number', rate, 60, 'portal API requests per key at once...'),
  s('rates.apiPerMinute', 'NSLAB_RATE_API_PER_MIN', 'number', rate, 600, '...then per minute'),
  s(
    'lti.platforms',
    'NSLAB_LTI_PLATFORMS',
    'json',
    LtiPlatforms,
    [],
    'LMSs that may launch lessons: [{issuer, clientId, deploymentIds, authUrl, tokenUrl, jwksUrl, frameOrigins?}] (JSON in the environment; docs/lti.md)',
  ),
  s(
    'webhooks.retryBaseSeconds',
    'NSLAB_WEBHOOK_RETRY_S',
    'number',
    z.number().min(0.05).max(3600),
    5,
    'a failed webhook delivery is tried again after this long, then twice as long each time (at most an hour apart), for a day',
  ),
  s(
    'cluster.agentId',
    'NSLAB_AGENT_ID',
    'string',
    z.string().regex(AGENT_ID, 'a lowercase host name (letters, digits, dots, dashes)'),
    null,
    "this agent's name among several (default: the machine's host name); lab ids carry a tag made from it",
    'lab-node-1',
  ),
  s(
    'cluster.advertiseUrl',
    'NSLAB_ADVERTISE_URL',
    'string',
    z.string().regex(/^https?:\/\/[^/\s?#]+$/, 'scheme://host[:port], no path'),
    null,
    'where routers reach this agent (default: its listen address and port)',
    'http://10.0.3.7:3000',
  ),
  s(
    'cluster.key',
    'NSLAB_CLUSTER_KEY',
    'string',
    z.string().min(MIN_CLUSTER_KEY_CHARS, `at least ${MIN_CLUSTER_KEY_CHARS} characters`),
    null,
    'the secret the agents and routers share; with it lab ids name this agent and are signed (docs/router.md)',
    '...',
  ),
  s(
    'cluster.keyFile',
    'NSLAB_CLUSTER_KEY_FILE',
    'string',
    z.string().startsWith('/'),
    null,
    'a file holding the cluster key (a mounted secret), instead of the key itself',
    '/etc/nslab/cluster-key',
  ),
  s(
    'cluster.version',
    'NSLAB_VERSION',
    'string',
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/, 'a release name (letters, digits, . _ + -)'),
    null,
    "the release this agent reports to routers, which send new labs only to agents of their own (default: nslab's package version)",
    '0.1.0',
  ),
  s(
    'cluster.drainDeadlineSeconds',
    'NSLAB_DRAIN_DEADLINE_S',
    'number',
    seconds,
    3600,
    'a draining agent closes when its last lab ends, or this long after the drain began',
  ),
  s('recordings.retentionDays', 'NSLAB_RECORDINGS_RETENTION_DAYS', 'number', positive, 7, "days a workshop's terminal recordings are kept"),
  s(
    'recordings.maxKbPerPane',
    'NSLAB_RECORDINGS_MAX_KB',
    'number',
    positive,
    16384,
    'largest recording of one pane (KiB): past it, its beginning and end are kept',
  ),
];

/** What the file's sections are about (for the example file). */
const SECTION_DOCS: Record<string, string> = {
  ids: '',
  labs: '',
  limits: 'per lab',
  time: "offsets of every lab's time namespace",
  rates: 'per client; over them a client gets "rate-limited" and when to retry',
  recordings: "a workshop's terminals, recorded for its instructor",
  cluster: 'several agents behind a router (docs/router.md)',
  webhooks: "portals' webhooks (docs/portals.md)",
  lti: 'LTI 1.3: the LMSs (Moodle, Canvas, Open edX) that may launch lessons (docs/lti.md)',
};

/** The configuration file's schema, made from the table: every key optional, unknown keys errors. */
function fileSchema(): z.ZodTypeAny {
  const top: Record<string, z.ZodTypeAny> = {};
  const sections: Record<string, Record<string, z.ZodTypeAny>> = {};
  for (const st of SETTINGS) {
    const [a, b] = st.key.split('.') as [string, string | undefined];
    if (b === undefined) top[a] = st.type;
    else (sections[a] ??= {})[b] = st.type;
  }
  for (const [name, shape] of Object.entries(sections)) top[name] = z.object(shape).partial().strict();
  return z.object(top).partial().strict();
}
export const ConfigFile = fileSchema();
export type ConfigFile = Record<string, unknown>;

function describeIssue(issue: z.ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  return issue.message;
}

/** Read and check the configuration file; `{}` when there is none. */
export function readConfigFile(path: string | undefined): ConfigFile {
  if (!path) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the configuration file ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = ConfigFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? '' : 'the file');
    throw new ConfigError(`${path}: ${key ? `${key}: ` : ''}${describeIssue(issue)}`);
  }
  return parsed.data as ConfigFile;
}

function fromFile(file: ConfigFile, key: string): unknown {
  let v: unknown = file;
  for (const part of key.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

/** An environment variable's text as a value of the setting's kind, checked by its type. */
function fromEnv(st: Setting, text: string): unknown {
  let v: unknown;
  switch (st.kind) {
    case 'string':
      v = text;
      break;
    case 'number':
      v = Number(text);
      if (text.trim() === '' || !Number.isFinite(v as number)) throw new ConfigError(`${st.env} must be a number, got "${text}"`);
      break;
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(text)) v = true;
      else if (/^(0|false|no|off)$/i.test(text)) v = false;
      else throw new ConfigError(`${st.env} must be 1 or 0, got "${text}"`);
      break;
    case 'list':
      v = text.split(/[\s,]+/).filter(Boolean);
      break;
    case 'paths':
      v = text.split(':').filter(Boolean);
      break;
    case 'json':
      try {
        v = JSON.parse(text);
      } catch {
        throw new ConfigError(`${st.env} must be JSON, got "${text.slice(0, 80)}"`);
      }
      break;
  }
  const r = st.type.safeParse(v);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const item = typeof issue.path[0] === 'number' && Array.isArray(v) ? ` "${v[issue.path[0]]}"` : '';
    throw new ConfigError(`${st.env}:${item} ${describeIssue(issue)} (got "${text}")`);
  }
  return r.data;
}

/** Every setting's value by key: the default, under the file, under the environment. */
export function settingValues(file: ConfigFile, env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const st of SETTINGS) {
    let v = st.default;
    const f = fromFile(file, st.key);
    if (f !== undefined) v = f;
    const e = env[st.env];
    if (e !== undefined && e !== '') v = fromEnv(st, e);
    out[st.key] = v;
  }
  return out;
}

/** The lessons shipped with nslab: the checkout's content/lessons. */
export const SHIPPED_CONTENT_DIR = join(REPO_ROOT, 'content', 'lessons');

/** The content setting as absolute directories (none set: the shipped lessons). */
export function contentDirs(value: string | readonly string[] | null): string[] {
  if (value === null) return [SHIPPED_CONTENT_DIR];
  return resolveContentDirs(typeof value === 'string' ? [value] : value, SHIPPED_CONTENT_DIR);
}

export function loadConfig(overrides: Partial<AgentConfig> = {}, file: ConfigFile = readConfigFile(process.env.NSLAB_CONFIG)): AgentConfig {
  const v = settingValues(file);
  const n = (key: string) => v[key] as number;
  const str = (key: string) => v[key] as string;
  const instance = str('instance');
  const base: AgentConfig = {
    instance,
    host: str('host'),
    port: n('port'),
    stateDir: (v.stateDir as string | null) ?? `/run/${instance}`,
    dataDir: (v.dataDir as string | null) ?? `/var/lib/${instance}`,
    databaseUrl: (v.databaseUrl as string | null) ?? null,
    token: (v.token as string | null) ?? null,
    rootfsLower: str('rootfs'),
    contentDirs: contentDirs(v.content as string | string[] | null),
    lessonsWatch: v.lessonsWatch as boolean,
    idBase: n('ids.base'),
    idsPerLab: n('ids.perLab'),
    maxLabs: n('labs.max'),
    warmLabs: n('labs.warm'),
    warmPerLesson: n('labs.warmPerLesson'),
    labsPerSession: n('labs.perSession'),
    labsPerAddress: n('labs.perAddress'),
    limits: {
      memoryMb: n('limits.memoryMb'),
      pids: n('limits.pids'),
      cpuPercent: n('limits.cpuPercent'),
      rootSizeMb: n('limits.diskMb'),
      tmpSizeMb: n('limits.tmpMb'),
      nofile: n('limits.nofile'),
      ptys: n('limits.ptys'),
    },
    timeOffsets: { monotonic: n('time.monotonicSeconds'), boottime: n('time.boottimeSeconds') },
    hostname: str('hostname'),
    maskPaths: v.maskPaths as string[],
    recordings: { retentionMs: n('recordings.retentionDays') * 86_400_000, maxBytesPerPane: n('recordings.maxKbPerPane') * 1024 },
    graceMs: n('labs.graceSeconds') * 1000,
    idleMs: n('labs.idleSeconds') * 1000,
    maxLifetimeMs: n('labs.maxLifetimeSeconds') * 1000,
    warnMs: n('labs.warnSeconds') * 1000,
    rates: {
      messages: { burst: n('rates.messagesBurst'), perSecond: n('rates.messagesPerSecond') },
      inputBytes: { burst: n('rates.inputBurst'), perSecond: n('rates.inputPerSecond') },
      opens: { burst: n('rates.opensBurst'), perMinute: n('rates.opensPerMinute') },
      opensPerAddress: { burst: n('rates.addressOpensBurst'), perMinute: n('rates.addressOpensPerMinute') },
      joins: { burst: n('rates.joinsBurst'), perMinute: n('rates.joinsPerMinute') },
      api: { burst: n('rates.apiBurst'), perMinute: n('rates.apiPerMinute') },
    },
    publicUrl: (v.publicUrl as string | null) ?? null,
    lti: { platforms: v['lti.platforms'] as LtiPlatform[] },
    webhooks: { retryBaseMs: n('webhooks.retryBaseSeconds') * 1000 },
    allowedOrigins: v.allowedOrigins as string[],
    allowedHosts: v.allowedHosts as string[],
    trustedProxies: v.trustedProxies as string[],
    metrics: v.metrics as boolean,
    shutdownNoticeMs: n('shutdownNoticeSeconds') * 1000,
    web: v.web as boolean,
    dev: v.dev as boolean,
    logLevel: str('logLevel'),
    cluster: {
      agentId: (v['cluster.agentId'] as string | null) ?? defaultAgentId(),
      advertiseUrl: (v['cluster.advertiseUrl'] as string | null) ?? null,
      key: readClusterKey(v['cluster.key'] as string | null, v['cluster.keyFile'] as string | null),
      version: (v['cluster.version'] as string | null) ?? packageVersion(),
      drainDeadlineMs: n('cluster.drainDeadlineSeconds') * 1000,
    },
  };
  return { ...base, ...overrides, limits: { ...base.limits, ...(overrides.limits ?? {}) } };
}

function isAddressOrRange(text: string): boolean {
  const [addr, bits, extra] = text.split('/');
  const family = isIP(addr ?? '');
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n <= (family === 6 ? 128 : 32);
}

/** nslab's release, from the checkout's package.json. */
function packageVersion(): string {
  try {
    const v = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' && v ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** The machine's host name as an agent id: lowercased, anything else than a host name's characters dropped. */
function defaultAgentId(): string {
  const name = osHostname()
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '')
    .replace(/^[.-]+|[.-]+$/g, '')
    .slice(0, 63);
  return AGENT_ID.test(name) ? name : 'agent';
}

function readClusterKey(key: string | null, file: string | null): Buffer | null {
  if (key !== null && file !== null) throw new ConfigError('NSLAB_CLUSTER_KEY and NSLAB_CLUSTER_KEY_FILE both set: name the key once');
  if (file !== null) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read the cluster key file ${file}: ${(err as Error).message}`);
    }
    try {
      return clusterKey(text);
    } catch (err) {
      throw new ConfigError(`${file}: ${(err as Error).message}`);
    }
  }
  return key === null ? null : clusterKey(key);
}

function yamlValue(v: unknown): string {
  if (Array.isArray(v)) return `[${v.join(', ')}]`;
  return String(v);
}

/** The example configuration file, made from the table: every key, its default, its variable. */
export function exampleYaml(): string {
  const lines = [
    '# nslab agent configuration. Every key is optional: the values below are the defaults.',
    '# Point the agent at this file with NSLAB_CONFIG=/etc/nslab/config.yaml (or --config).',
    '# Environment variables override the file (the name of each is in the comment).',
    '# Made from the settings table in apps/agent/src/config.ts (a test keeps the two the same).',
    '',
  ];
  const entry = (indent: string, name: string, st: Setting) => {
    const unset = st.default === null;
    const left = `${indent}${unset ? '# ' : ''}${name}: ${unset ? st.example : yamlValue(st.default)}`;
    return `${left.padEnd(34)} # ${st.env}: ${st.doc}`;
  };
  let section = '';
  for (const st of SETTINGS) {
    const [a, b] = st.key.split('.') as [string, string | undefined];
    if (b === undefined) {
      lines.push(entry('', a, st));
      continue;
    }
    if (a !== section) {
      section = a;
      lines.push('', SECTION_DOCS[a] ? `${`${a}:`.padEnd(34)} # ${SECTION_DOCS[a]}` : `${a}:`);
    }
    lines.push(entry('  ', b, st));
  }
  return lines.join('\n') + '\n';
}

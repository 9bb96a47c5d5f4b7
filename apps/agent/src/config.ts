// The agent's settings, in layers: embedded defaults, then the configuration file (YAML, named
// by NSLAB_CONFIG; see deploy/nslab.example.yaml), then environment variables, then what the
// code that starts the agent passes (tests, the bench). Every file value is checked; a wrong
// one stops the agent with the key and what was wrong.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { REPO_ROOT } from './paths.js';
export interface AgentConfig {
  /** Names this agent's cgroups and state directory, so two agents on one host stay apart. */
  instance: string;
  host: string;
  port: number;
  /** Where the agent keeps its token and the labs' staging directories. */
  stateDir: string;
  token: string | null;
  /** Lesson files: <dir>/<lang>/<id>.md. */
  contentDir: string;
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
  };
  /** Origins (scheme://host:port) besides the agent's own whose pages may open a WebSocket. */
  allowedOrigins: string[];
  /**
   * Host names the agent answers to besides IP addresses and localhost (its public name behind a
   * proxy, say); any other Host header is refused with 421, against DNS rebinding.
   */
  allowedHosts: string[];
  /** Serve /metrics (Prometheus text, token required). */
  metrics: boolean;
  /** On shutdown, labs are told and given this long before they close (ms). */
  shutdownNoticeMs: number;
  web: boolean;
  dev: boolean;
  logLevel: string;
}


/** A DNS name (letters, digits, dots, hyphens), with an optional :port. */
export const HOST_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?(:\d{1,5})?$/;
const seconds = z.number().min(0).max(365 * 24 * 3600);
const positive = z.number().int().min(1);
const rate = z.number().positive();

/** The configuration file. Every key is optional; unknown keys are errors (a typo is not ignored). */
export const ConfigFile = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(0).max(65535),
    instance: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, 'a short lowercase name'),
    stateDir: z.string().startsWith('/'),
    token: z.string().min(16, 'at least 16 characters'),
    rootfs: z.string().startsWith('/'),
    content: z.string().startsWith('/'),
    hostname: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/),
    maskPaths: z.array(z.string().startsWith('/')),
    allowedOrigins: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'scheme://host[:port], no path')),
    allowedHosts: z.array(z.string().regex(HOST_NAME, 'a host name, optionally with :port')),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    web: z.boolean(),
    metrics: z.boolean(),
    shutdownNoticeSeconds: seconds,
    ids: z.object({ base: z.number().int().min(65536), perLab: z.number().int().min(65536) }).partial().strict(),
    labs: z
      .object({
        max: positive,
        warm: z.number().int().min(0),
        warmPerLesson: z.number().int().min(0).max(16),
        perSession: positive,
        perAddress: z.number().int().min(0),
        graceSeconds: seconds,
        idleSeconds: seconds,
        maxLifetimeSeconds: seconds,
        warnSeconds: seconds,
      })
      .partial()
      .strict(),
    limits: z
      .object({ memoryMb: positive, pids: positive, cpuPercent: positive, diskMb: positive, tmpMb: positive, nofile: positive, ptys: z.number().int().min(4).max(4096) })
      .partial()
      .strict(),
    time: z.object({ monotonicSeconds: z.number().int(), boottimeSeconds: z.number().int() }).partial().strict(),
    rates: z
      .object({
        messagesBurst: rate,
        messagesPerSecond: rate,
        inputBurst: rate,
        inputPerSecond: rate,
        opensBurst: rate,
        opensPerMinute: rate,
        addressOpensBurst: rate,
        addressOpensPerMinute: rate,
      })
      .partial()
      .strict(),
  })
  .partial()
  .strict();
export type ConfigFile = z.infer<typeof ConfigFile>;

export class ConfigError extends Error {}

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
    const unknown = issue.code === 'unrecognized_keys' ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` : issue.message;
    throw new ConfigError(`${path}: ${key ? `${key}: ` : ''}${unknown}`);
  }
  return parsed.data;
}

function num(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(`${name} must be a number, got "${v}"`);
  return n;
}

export function loadConfig(overrides: Partial<AgentConfig> = {}, file: ConfigFile = readConfigFile(process.env.NSLAB_CONFIG)): AgentConfig {
  const env = process.env;
  const f = file;
  const instance = env.NSLAB_INSTANCE || f.instance || 'nslab';
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(instance)) throw new ConfigError(`NSLAB_INSTANCE must be a short lowercase name, got "${instance}"`);
  const base: AgentConfig = {
    instance,
    host: env.HOST || f.host || '127.0.0.1',
    port: num('PORT', f.port ?? 3000),
    stateDir: env.NSLAB_STATE_DIR || f.stateDir || `/run/${instance}`,
    token: env.NSLAB_TOKEN || f.token || null,
    rootfsLower: env.NSLAB_ROOTFS || f.rootfs || '/',
    contentDir: env.NSLAB_CONTENT || f.content || join(REPO_ROOT, 'content', 'lessons'),
    idBase: num('NSLAB_ID_BASE', f.ids?.base ?? 100000),
    idsPerLab: num('NSLAB_IDS_PER_LAB', f.ids?.perLab ?? 65536),
    maxLabs: num('NSLAB_MAX_LABS', f.labs?.max ?? 256),
    warmLabs: num('NSLAB_WARM_LABS', f.labs?.warm ?? 2),
    warmPerLesson: num('NSLAB_WARM_PER_LESSON', f.labs?.warmPerLesson ?? 1),
    labsPerSession: num('NSLAB_LABS_PER_SESSION', f.labs?.perSession ?? 3),
    labsPerAddress: num('NSLAB_LABS_PER_ADDRESS', f.labs?.perAddress ?? 64),
    limits: {
      memoryMb: num('NSLAB_LAB_MEMORY_MB', f.limits?.memoryMb ?? 512),
      pids: num('NSLAB_LAB_PIDS', f.limits?.pids ?? 256),
      cpuPercent: num('NSLAB_LAB_CPU_PERCENT', f.limits?.cpuPercent ?? 100),
      rootSizeMb: num('NSLAB_LAB_DISK_MB', f.limits?.diskMb ?? 256),
      tmpSizeMb: num('NSLAB_LAB_TMP_MB', f.limits?.tmpMb ?? 64),
      nofile: num('NSLAB_LAB_NOFILE', f.limits?.nofile ?? 4096),
      ptys: num('NSLAB_LAB_PTYS', f.limits?.ptys ?? 32),
    },
    timeOffsets: {
      monotonic: num('NSLAB_TIME_MONOTONIC_S', f.time?.monotonicSeconds ?? 0),
      boottime: num('NSLAB_TIME_BOOTTIME_S', f.time?.boottimeSeconds ?? 0),
    },
    hostname: env.NSLAB_HOSTNAME || f.hostname || 'nslab',
    maskPaths: env.NSLAB_MASK_PATHS !== undefined ? env.NSLAB_MASK_PATHS.split(':').filter(Boolean) : (f.maskPaths ?? []),
    graceMs: num('NSLAB_GRACE_S', f.labs?.graceSeconds ?? 300) * 1000,
    idleMs: num('NSLAB_IDLE_S', f.labs?.idleSeconds ?? 1800) * 1000,
    maxLifetimeMs: num('NSLAB_MAX_LIFETIME_S', f.labs?.maxLifetimeSeconds ?? 4 * 3600) * 1000,
    warnMs: num('NSLAB_WARN_S', f.labs?.warnSeconds ?? 60) * 1000,
    rates: {
      messages: { burst: num('NSLAB_RATE_MESSAGES_BURST', f.rates?.messagesBurst ?? 2000), perSecond: num('NSLAB_RATE_MESSAGES_PER_S', f.rates?.messagesPerSecond ?? 1000) },
      inputBytes: {
        burst: num('NSLAB_RATE_INPUT_BURST', f.rates?.inputBurst ?? 4 * 1024 * 1024),
        perSecond: num('NSLAB_RATE_INPUT_PER_S', f.rates?.inputPerSecond ?? 1024 * 1024),
      },
      opens: { burst: num('NSLAB_RATE_OPENS_BURST', f.rates?.opensBurst ?? 10), perMinute: num('NSLAB_RATE_OPENS_PER_MIN', f.rates?.opensPerMinute ?? 10) },
      opensPerAddress: {
        burst: num('NSLAB_RATE_ADDRESS_OPENS_BURST', f.rates?.addressOpensBurst ?? 60),
        perMinute: num('NSLAB_RATE_ADDRESS_OPENS_PER_MIN', f.rates?.addressOpensPerMinute ?? 60),
      },
    },
    allowedOrigins: env.NSLAB_ALLOWED_ORIGINS !== undefined ? env.NSLAB_ALLOWED_ORIGINS.split(/[\s,]+/).filter(Boolean) : (f.allowedOrigins ?? []),
    allowedHosts: env.NSLAB_ALLOWED_HOSTS !== undefined ? env.NSLAB_ALLOWED_HOSTS.split(/[\s,]+/).filter(Boolean) : (f.allowedHosts ?? []),
    metrics: env.NSLAB_METRICS !== undefined ? env.NSLAB_METRICS !== '0' : (f.metrics ?? true),
    shutdownNoticeMs: num('NSLAB_SHUTDOWN_NOTICE_S', f.shutdownNoticeSeconds ?? 1) * 1000,
    web: env.NSLAB_WEB !== undefined ? env.NSLAB_WEB !== '0' : (f.web ?? true),
    dev: env.NSLAB_DEV === '1',
    logLevel: env.LOG_LEVEL || f.logLevel || 'info',
  };
  for (const [name, v] of [['NSLAB_WARM_LABS', base.warmLabs], ['NSLAB_WARM_PER_LESSON', base.warmPerLesson]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 64) throw new ConfigError(`${name} must be a whole number from 0 to 64, got ${v}`);
  }
  for (const h of base.allowedHosts) {
    if (!HOST_NAME.test(h)) throw new ConfigError(`NSLAB_ALLOWED_HOSTS: "${h}" is not a host name (name or name:port)`);
  }
  if (!Number.isInteger(base.limits.ptys) || base.limits.ptys < 4 || base.limits.ptys > 4096) {
    throw new ConfigError(`NSLAB_LAB_PTYS must be a whole number from 4 to 4096, got ${base.limits.ptys}`);
  }
  return { ...base, ...overrides, limits: { ...base.limits, ...(overrides.limits ?? {}) } };
}

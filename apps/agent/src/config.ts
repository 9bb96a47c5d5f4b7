// The agent's settings: embedded defaults, overridden by environment variables.
import { join } from 'node:path';
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
  /** Labs made ahead of time so that opening one takes only its panes' start. */
  warmLabs: number;
  limits: {
    memoryMb: number;
    pids: number;
    cpuPercent: number;
    rootSizeMb: number;
    tmpSizeMb: number;
    nofile: number;
  };
  /** Time offsets of every lab's own time namespace (seconds). */
  timeOffsets: { monotonic: number; boottime: number };
  hostname: string;
  /** Extra paths hidden from labs, beyond the built-in list. */
  maskPaths: string[];
  /** How long a lab waits for its client to come back after the last one left (ms). */
  graceMs: number;
  /** Per-client rates: messages and input bytes per connection, labs opened per session/address. */
  rates: {
    messages: { burst: number; perSecond: number };
    inputBytes: { burst: number; perSecond: number };
    /** Labs opened per browser session, and per client address (all its sessions). */
    opens: { burst: number; perMinute: number };
    opensPerAddress: { burst: number; perMinute: number };
  };
  web: boolean;
  dev: boolean;
  logLevel: string;
}

function num(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got "${v}"`);
  return n;
}

export function loadConfig(overrides: Partial<AgentConfig> = {}): AgentConfig {
  const env = process.env;
  const instance = env.NSLAB_INSTANCE || 'nslab';
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(instance)) throw new Error(`NSLAB_INSTANCE must be a short lowercase name, got "${instance}"`);
  const base: AgentConfig = {
    instance,
    host: env.HOST || '127.0.0.1',
    port: num('PORT', 3000),
    stateDir: env.NSLAB_STATE_DIR || `/run/${instance}`,
    token: env.NSLAB_TOKEN || null,
    rootfsLower: env.NSLAB_ROOTFS || '/',
    contentDir: env.NSLAB_CONTENT || join(REPO_ROOT, 'content', 'lessons'),
    idBase: num('NSLAB_ID_BASE', 100000),
    idsPerLab: num('NSLAB_IDS_PER_LAB', 65536),
    maxLabs: num('NSLAB_MAX_LABS', 256),
    warmLabs: num('NSLAB_WARM_LABS', 2),
    labsPerSession: num('NSLAB_LABS_PER_SESSION', 3),
    limits: {
      memoryMb: num('NSLAB_LAB_MEMORY_MB', 512),
      pids: num('NSLAB_LAB_PIDS', 256),
      cpuPercent: num('NSLAB_LAB_CPU_PERCENT', 100),
      rootSizeMb: num('NSLAB_LAB_DISK_MB', 256),
      tmpSizeMb: num('NSLAB_LAB_TMP_MB', 64),
      nofile: num('NSLAB_LAB_NOFILE', 4096),
    },
    timeOffsets: { monotonic: num('NSLAB_TIME_MONOTONIC_S', 0), boottime: num('NSLAB_TIME_BOOTTIME_S', 0) },
    hostname: env.NSLAB_HOSTNAME || 'nslab',
    maskPaths: (env.NSLAB_MASK_PATHS || '').split(':').filter(Boolean),
    graceMs: num('NSLAB_GRACE_S', 300) * 1000,
    rates: {
      messages: { burst: num('NSLAB_RATE_MESSAGES_BURST', 2000), perSecond: num('NSLAB_RATE_MESSAGES_PER_S', 1000) },
      inputBytes: { burst: num('NSLAB_RATE_INPUT_BURST', 4 * 1024 * 1024), perSecond: num('NSLAB_RATE_INPUT_PER_S', 1024 * 1024) },
      opens: { burst: num('NSLAB_RATE_OPENS_BURST', 10), perMinute: num('NSLAB_RATE_OPENS_PER_MIN', 10) },
      opensPerAddress: { burst: num('NSLAB_RATE_ADDRESS_OPENS_BURST', 60), perMinute: num('NSLAB_RATE_ADDRESS_OPENS_PER_MIN', 60) },
    },
    web: env.NSLAB_WEB !== '0',
    dev: env.NSLAB_DEV === '1',
    logLevel: env.LOG_LEVEL || 'info',
  };
  return { ...base, ...overrides, limits: { ...base.limits, ...(overrides.limits ?? {}) } };
}

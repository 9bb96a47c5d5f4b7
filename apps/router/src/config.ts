// The router's settings, all from the environment (a container's usual way), checked with zod
// once at start: a wrong value stops the router with the variable's name and what it wants.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { clusterKey } from '@nslab/shared/cluster';

/** Where the router learns its agents from: exactly one of these is set. */
export type AgentSource =
  | { kind: 'static'; urls: string[] }
  | { kind: 'dns'; name: string; port: number }
  | { kind: 'endpointslices'; namespace: string; service: string; portName: string | null; api: string; tokenFile: string; caFile: string | null };

export interface RouterConfig {
  host: string;
  port: number;
  agents: AgentSource;
  key: Buffer;
  healthIntervalMs: number;
  /** One health request gives up after this long (the agent counts as unhealthy). */
  healthTimeoutMs: number;
  /** The release of this router: new labs go only to agents reporting the same. */
  version: string;
  logLevel: string;
}

export class ConfigError extends Error {}

const BASE_URL = /^https?:\/\/[^/\s?#]+$/;
const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

const Env = z.object({
  NSLAB_ROUTER_HOST: z.string().min(1).default('0.0.0.0'),
  NSLAB_ROUTER_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  NSLAB_AGENTS: z.string().optional(),
  NSLAB_AGENTS_DNS: z
    .string()
    .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'name:port, e.g. nslab-agents.nslab.svc.cluster.local:3000')
    .optional(),
  NSLAB_AGENTS_ENDPOINTSLICES: z
    .string()
    .regex(/^[a-z0-9-]{1,63}\/[a-z0-9-]{1,63}(:[a-z0-9-]{1,63})?$/, 'namespace/service or namespace/service:portName')
    .optional(),
  NSLAB_KUBE_API: z.string().regex(BASE_URL, 'scheme://host[:port], no path').optional(),
  NSLAB_KUBE_TOKEN_FILE: z.string().startsWith('/').optional(),
  NSLAB_KUBE_CA_FILE: z.string().startsWith('/').optional(),
  KUBERNETES_SERVICE_HOST: z.string().optional(),
  KUBERNETES_SERVICE_PORT: z.string().optional(),
  NSLAB_CLUSTER_KEY: z.string().optional(),
  NSLAB_CLUSTER_KEY_FILE: z.string().startsWith('/').optional(),
  NSLAB_HEALTH_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(2000),
  NSLAB_HEALTH_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).optional(),
  NSLAB_VERSION: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/, 'a release name (letters, digits, . _ + -)')
    .optional(),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

function agentSource(env: z.infer<typeof Env>): AgentSource {
  const set = (['NSLAB_AGENTS', 'NSLAB_AGENTS_DNS', 'NSLAB_AGENTS_ENDPOINTSLICES'] as const).filter((k) => env[k]);
  if (set.length !== 1)
    throw new ConfigError(
      set.length === 0
        ? 'name the agents: NSLAB_AGENTS (base URLs, comma-separated), NSLAB_AGENTS_DNS (name:port) or NSLAB_AGENTS_ENDPOINTSLICES (namespace/service)'
        : `name the agents one way only, not ${set.join(' and ')}`,
    );
  if (env.NSLAB_AGENTS) {
    const urls = env.NSLAB_AGENTS.split(',')
      .map((u) => u.trim().replace(/\/+$/, ''))
      .filter(Boolean);
    const bad = urls.find((u) => !BASE_URL.test(u));
    if (bad !== undefined || urls.length === 0)
      throw new ConfigError(`NSLAB_AGENTS: "${bad ?? ''}" is not a base URL (http://host:port, no path); separate several with commas`);
    return { kind: 'static', urls: [...new Set(urls)] };
  }
  if (env.NSLAB_AGENTS_DNS) {
    const at = env.NSLAB_AGENTS_DNS.lastIndexOf(':');
    const port = Number(env.NSLAB_AGENTS_DNS.slice(at + 1));
    if (port < 1 || port > 65535) throw new ConfigError(`NSLAB_AGENTS_DNS: ${port} is not a port`);
    return { kind: 'dns', name: env.NSLAB_AGENTS_DNS.slice(0, at), port };
  }
  const [ns, rest] = env.NSLAB_AGENTS_ENDPOINTSLICES!.split('/') as [string, string];
  const [service, portName] = rest.split(':') as [string, string | undefined];
  let api = env.NSLAB_KUBE_API;
  if (!api) {
    const host = env.KUBERNETES_SERVICE_HOST;
    if (!host)
      throw new ConfigError('NSLAB_AGENTS_ENDPOINTSLICES needs the Kubernetes API: run in a pod (KUBERNETES_SERVICE_HOST is set there) or set NSLAB_KUBE_API');
    api = `https://${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT || '443'}`;
  }
  return {
    kind: 'endpointslices',
    namespace: ns,
    service,
    portName: portName ?? null,
    api,
    tokenFile: env.NSLAB_KUBE_TOKEN_FILE ?? join(SERVICE_ACCOUNT, 'token'),
    caFile: env.NSLAB_KUBE_CA_FILE ?? (api.startsWith('https:') ? join(SERVICE_ACCOUNT, 'ca.crt') : null),
  };
}

function readKey(env: z.infer<typeof Env>): Buffer {
  if (env.NSLAB_CLUSTER_KEY && env.NSLAB_CLUSTER_KEY_FILE) throw new ConfigError('NSLAB_CLUSTER_KEY and NSLAB_CLUSTER_KEY_FILE both set: name the key once');
  let text = env.NSLAB_CLUSTER_KEY;
  const where = env.NSLAB_CLUSTER_KEY_FILE ?? 'NSLAB_CLUSTER_KEY';
  if (env.NSLAB_CLUSTER_KEY_FILE) {
    try {
      text = readFileSync(env.NSLAB_CLUSTER_KEY_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read the cluster key file ${env.NSLAB_CLUSTER_KEY_FILE}: ${(err as Error).message}`);
    }
  }
  if (text === undefined)
    throw new ConfigError('the router needs the cluster key its agents have: set NSLAB_CLUSTER_KEY or NSLAB_CLUSTER_KEY_FILE (the same as on the agents)');
  try {
    return clusterKey(text);
  } catch (err) {
    throw new ConfigError(`${where}: ${(err as Error).message}`);
  }
}

declare const __NSLAB_VERSION__: string | undefined;

/** nslab's release: baked into the bundle at build time, else read from the checkout's package.json. */
export function packageVersion(): string {
  if (typeof __NSLAB_VERSION__ === 'string') return __NSLAB_VERSION__;
  try {
    // Under tsx (tests, development) this file is apps/router/src/config.ts.
    const here = typeof __dirname === 'string' ? __dirname : dirname(new URL(import.meta.url).pathname);
    const v = (JSON.parse(readFileSync(join(here, '..', '..', '..', 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' && v ? v : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function loadConfig(environment: Record<string, string | undefined> = process.env): RouterConfig {
  // An empty variable counts as unset (a template that left it blank).
  const present = Object.fromEntries(Object.entries(environment).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = Env.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`${name}: ${issue.message} (got "${String(present[name] ?? '')}")`);
  }
  const env = parsed.data;
  return {
    host: env.NSLAB_ROUTER_HOST,
    port: env.NSLAB_ROUTER_PORT,
    agents: agentSource(env),
    key: readKey(env),
    healthIntervalMs: env.NSLAB_HEALTH_INTERVAL_MS,
    healthTimeoutMs: env.NSLAB_HEALTH_TIMEOUT_MS ?? Math.min(1500, Math.max(50, env.NSLAB_HEALTH_INTERVAL_MS)),
    version: env.NSLAB_VERSION ?? packageVersion(),
    logLevel: env.LOG_LEVEL,
  };
}

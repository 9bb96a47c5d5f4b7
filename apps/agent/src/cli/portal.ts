// `nslab keys create|ls|revoke` and `nslab webhooks add|ls|rm|log|test`: training portals'
// API keys and webhook endpoints, for the token holder (docs/portals.md). Stable for scripts:
// `keys create` prints the key alone on its last line, `webhooks add` the signing secret
// (whsec_...) alone on its last line.
import { parseArgs as parseFlags } from 'node:util';
import { ApiKeyInfo, DeliveryInfo, PORTAL_RESULTS } from '@nslab/shared';
import { z } from 'zod';
import type { AgentClient } from './client.js';
import { UsageError } from './errors.js';
import type { CliOutput } from './io.js';
import { formatAge, formatTable, parseReply } from './commands.js';

export type KeysCommand =
  | { kind: 'keys'; action: 'create'; name: string; origins: string[] }
  | { kind: 'keys'; action: 'ls' }
  | { kind: 'keys'; action: 'revoke'; name: string };

export type WebhooksCommand =
  | { kind: 'webhooks'; action: 'add'; key: string; url: string }
  | { kind: 'webhooks'; action: 'ls' }
  | { kind: 'webhooks'; action: 'rm' | 'test'; endpoint: string }
  | { kind: 'webhooks'; action: 'log'; endpoint: string; limit: number };

export const KEYS_SYNOPSIS = 'nslab keys create --name <name> [--origins <https://a,https://b>] | ls | revoke <name>';
export const KEYS_DETAILS = [
  "create  make an API key for a portal's server; it is printed once, alone on the last line",
  '        (the agent keeps only its hash). --origins: the sites whose pages may embed lessons',
  '        launched with it, comma-separated (scheme://host[:port]).',
  'ls      every key: name, origins, age, revoked or not (never the key itself)',
  'revoke  the key stops working at once; its launch links and embeds stop too',
].join('\n');

export const WEBHOOKS_SYNOPSIS = 'nslab webhooks add <key-name> <url> | ls | rm <endpoint> | log <endpoint> [--limit n] | test <endpoint>';
export const WEBHOOKS_DETAILS = [
  "add   send the events of a key's learners to a URL; prints the signing secret (whsec_...)",
  '      alone on the last line: verify deliveries with it (Standard Webhooks)',
  'ls    every endpoint: id, key, URL',
  'rm    stop delivering to an endpoint',
  'log   its newest deliveries: event, user, state, attempts and the last error',
  'test  queue a webhook.test event for it',
].join('\n');

const ENDPOINT = /^[a-z0-9]{6,32}$/;
const KEY_NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;

function flags(
  what: string,
  args: string[],
  options: Record<string, { type: 'string' | 'boolean' }>,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const p = parseFlags({ args, allowPositionals: true, strict: true, options: { ...options, help: { type: 'boolean' } } });
    return { values: p.values as Record<string, string | boolean | undefined>, positionals: p.positionals };
  } catch (err) {
    throw new UsageError(`${what}: ${(err as Error).message.split('\n')[0]}`);
  }
}

function positionals(what: string, got: string[], names: string[], synopsis: string): string[] {
  if (got.length < names.length) throw new UsageError(`${what}: missing <${names[got.length]}> (usage: ${synopsis})`);
  if (got.length > names.length) throw new UsageError(`${what}: unexpected argument '${got[names.length]}'`);
  return got;
}

function keyName(what: string, s: string): string {
  if (!KEY_NAME.test(s)) throw new UsageError(`${what}: '${s}' is not a key name (1 to 40 lowercase letters, digits, - or _)`);
  return s;
}

function endpoint(what: string, s: string): string {
  if (!ENDPOINT.test(s)) throw new UsageError(`${what}: '${s}' is not an endpoint id (see nslab webhooks ls)`);
  return s;
}

export function parseKeys(rest: string[]): KeysCommand | 'help' {
  const [action, ...args] = rest;
  if (action === undefined || action === '-h' || action === '--help') return 'help';
  const what = `keys ${action}`;
  const p = flags(what, args, action === 'create' ? { name: { type: 'string' }, origins: { type: 'string' } } : {});
  if (p.values.help) return 'help';
  switch (action) {
    case 'create': {
      positionals(what, p.positionals, [], KEYS_SYNOPSIS);
      const name = typeof p.values.name === 'string' ? p.values.name : '';
      if (!name) throw new UsageError('keys create: --name is needed (e.g. --name academy)');
      const origins = String(p.values.origins ?? '')
        .split(',')
        .map((o) => o.trim().replace(/\/+$/, ''))
        .filter(Boolean);
      for (const o of origins)
        if (!/^https?:\/\/[^/\s?#]+$/.test(o)) throw new UsageError(`keys create: '${o}' is not an origin (scheme://host[:port], no path)`);
      return { kind: 'keys', action, name: keyName(what, name), origins };
    }
    case 'ls':
      positionals(what, p.positionals, [], KEYS_SYNOPSIS);
      return { kind: 'keys', action };
    case 'revoke': {
      const [name] = positionals(what, p.positionals, ['name'], KEYS_SYNOPSIS);
      return { kind: 'keys', action, name: keyName(what, name!) };
    }
    default:
      throw new UsageError(`keys: unknown action '${action}' (create, ls or revoke)`);
  }
}

export function parseWebhooks(rest: string[]): WebhooksCommand | 'help' {
  const [action, ...args] = rest;
  if (action === undefined || action === '-h' || action === '--help') return 'help';
  const what = `webhooks ${action}`;
  const p = flags(what, args, action === 'log' ? { limit: { type: 'string' } } : {});
  if (p.values.help) return 'help';
  switch (action) {
    case 'add': {
      const [key, url] = positionals(what, p.positionals, ['key-name', 'url'], WEBHOOKS_SYNOPSIS);
      if (!/^https?:\/\/\S+$/.test(url!)) throw new UsageError(`webhooks add: '${url}' is not an http(s) URL`);
      return { kind: 'webhooks', action, key: keyName(what, key!), url: url! };
    }
    case 'ls':
      positionals(what, p.positionals, [], WEBHOOKS_SYNOPSIS);
      return { kind: 'webhooks', action };
    case 'rm':
    case 'test': {
      const [id] = positionals(what, p.positionals, ['endpoint'], WEBHOOKS_SYNOPSIS);
      return { kind: 'webhooks', action, endpoint: endpoint(what, id!) };
    }
    case 'log': {
      const [id] = positionals(what, p.positionals, ['endpoint'], WEBHOOKS_SYNOPSIS);
      const limit = p.values.limit === undefined ? 20 : Number(p.values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError('webhooks log: --limit is a whole number from 1 to 500');
      return { kind: 'webhooks', action, endpoint: endpoint(what, id!), limit };
    }
    default:
      throw new UsageError(`webhooks: unknown action '${action}' (add, ls, rm, log or test)`);
  }
}

export async function keysCommand(client: AgentClient, stdout: CliOutput, cmd: KeysCommand): Promise<number> {
  switch (cmd.action) {
    case 'create': {
      const k = parseReply(PORTAL_RESULTS['key-create'], await client.request({ type: 'key-create', name: cmd.name, origins: cmd.origins }), 'key-create');
      stdout.write(
        [
          `name: ${k.name}`,
          `origins: ${k.origins.join(', ') || '(none: its launches cannot be framed by other sites)'}`,
          'The key is shown this once; keep it on your portal server, never in a page:',
          k.key,
          '',
        ].join('\n'),
      );
      return 0;
    }
    case 'ls': {
      const keys = parseReply(z.array(ApiKeyInfo), await client.request({ type: 'key-list' }), 'key-list');
      if (!keys.length) {
        stdout.write('No API keys yet. Make one with: nslab keys create --name academy --origins https://academy.example\n');
        return 0;
      }
      const now = new Date();
      stdout.write(
        formatTable([
          ['NAME', 'STATE', 'AGE', 'ORIGINS'],
          ...keys.map((k) => [k.name, k.revokedAt ? 'revoked' : 'live', formatAge(k.createdAt, now), k.origins.join(',') || '-']),
        ]),
      );
      return 0;
    }
    case 'revoke':
      parseReply(PORTAL_RESULTS['key-revoke'], await client.request({ type: 'key-revoke', name: cmd.name }), 'key-revoke');
      stdout.write(`revoked: ${cmd.name}\n`);
      return 0;
  }
}

function deliveryLine(d: DeliveryInfo): string[] {
  const last = d.tries.at(-1);
  const status = last ? (last.status !== null ? String(last.status) : 'no answer') : '-';
  return [d.createdAt, d.event, d.user, d.state, String(d.attempts), status, d.state === 'pending' && d.nextAt ? `next ${d.nextAt}` : (d.lastError ?? '')];
}

export async function webhooksCommand(client: AgentClient, stdout: CliOutput, cmd: WebhooksCommand): Promise<number> {
  switch (cmd.action) {
    case 'add': {
      const e = parseReply(PORTAL_RESULTS['webhook-add'], await client.request({ type: 'webhook-add', key: cmd.key, url: cmd.url }), 'webhook-add');
      stdout.write([`endpoint: ${e.id}`, `key: ${e.key}`, `url: ${e.url}`, 'Its signing secret, shown this once:', e.secret, ''].join('\n'));
      return 0;
    }
    case 'ls': {
      const all = parseReply(PORTAL_RESULTS['webhook-list'], await client.request({ type: 'webhook-list' }), 'webhook-list');
      if (!all.length) {
        stdout.write('No webhook endpoints yet. Add one with: nslab webhooks add <key-name> https://portal.example/nslab-events\n');
        return 0;
      }
      stdout.write(formatTable([['ENDPOINT', 'KEY', 'URL'], ...all.map((e) => [e.id, e.key, e.url])]));
      return 0;
    }
    case 'rm':
      parseReply(PORTAL_RESULTS['webhook-remove'], await client.request({ type: 'webhook-remove', endpoint: cmd.endpoint }), 'webhook-remove');
      stdout.write(`removed: ${cmd.endpoint}\n`);
      return 0;
    case 'test': {
      const r = parseReply(PORTAL_RESULTS['webhook-test'], await client.request({ type: 'webhook-test', endpoint: cmd.endpoint }), 'webhook-test');
      stdout.write(`queued: ${r.queued} (see nslab webhooks log ${cmd.endpoint})\n`);
      return 0;
    }
    case 'log': {
      const rows = parseReply(z.array(DeliveryInfo), await client.request({ type: 'webhook-log', endpoint: cmd.endpoint, limit: cmd.limit }), 'webhook-log');
      if (!rows.length) {
        stdout.write('Nothing delivered yet.\n');
        return 0;
      }
      stdout.write(formatTable([['CREATED', 'EVENT', 'USER', 'STATE', 'TRIES', 'LAST', 'NOTE'], ...rows.map(deliveryLine)]));
      return 0;
    }
  }
}

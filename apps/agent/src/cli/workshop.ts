// `nslab workshop create|ls|show|close|link`: workshops for the token holder (docs/workshops.md).
// create prints, among its lines, `code: <code>`, `join: <url>` and `instructor: <url>` (stable:
// scripts read them).
import { parseArgs as parseFlags } from 'node:util';
import { isName, WorkshopInfo, WorkshopState, formatJoinCode } from '@nslab/shared';
import { z } from 'zod';
import type { AgentClient } from './client.js';
import { UsageError } from './errors.js';
import type { CliOutput } from './io.js';
import { formatAge, formatTable, parseReply } from './commands.js';

export type WorkshopCommand =
  | { kind: 'workshop'; action: 'create'; title: string; lessons: string[]; seats: number; opens?: string; closes?: string; lang: 'en' | 'zh' }
  | { kind: 'workshop'; action: 'ls' }
  | { kind: 'workshop'; action: 'show'; workshop: string }
  | { kind: 'workshop'; action: 'close'; workshop: string }
  | { kind: 'workshop'; action: 'link'; workshop: string; lang: 'en' | 'zh' };

export const WORKSHOP_SYNOPSIS =
  'nslab workshop create --title <t> --lessons <a,b> --seats <n> [--opens <time>] [--closes <time>] [--lang en|zh] | ls | show <id> | close <id> | link <id>';

export const WORKSHOP_DETAILS = [
  'create  make a workshop; prints its code, the join link for learners and the instructor link',
  '        (keep the instructor link secret: it opens the dashboard). Times are ISO 8601, e.g.',
  '        2026-12-01T09:00:00Z; without --opens it is open at once, without --closes until closed.',
  'ls      every workshop: id, state, seats taken, code, title',
  'show    one workshop: its learners and how many tasks each has done, open help requests',
  'close   close it: no more joins, its learners labs close (progress is kept)',
  'link    a new instructor link; every earlier one stops working',
].join('\n');

const ID = /^[a-z0-9]{6,32}$/;

function checkId(s: string | undefined): string {
  if (!s) throw new UsageError(`workshop: missing <id> (usage: ${WORKSHOP_SYNOPSIS})`);
  if (!ID.test(s)) throw new UsageError(`workshop: '${s}' is not a workshop id (see nslab workshop ls)`);
  return s;
}

function checkTime(flag: string, s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  const t = Date.parse(s);
  if (Number.isNaN(t) || !/^\d{4}-\d\d-\d\dT/.test(s)) throw new UsageError(`workshop create: --${flag} '${s}' is not an ISO 8601 time (2026-12-01T09:00:00Z)`);
  return new Date(t).toISOString();
}

function checkLang(s: string | undefined): 'en' | 'zh' {
  if (s === undefined || s === 'en' || s === 'zh') return s ?? 'en';
  throw new UsageError(`workshop: --lang must be en or zh, not '${s}'`);
}

/** Parse what follows `nslab workshop`. */
export function parseWorkshop(rest: string[]): WorkshopCommand | 'help' {
  const [action, ...args] = rest;
  if (action === undefined || action === '-h' || action === '--help') return 'help';
  let parsed: ReturnType<typeof parseFlags<{ options: Record<string, { type: 'string' | 'boolean' }>; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseFlags({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        title: { type: 'string' },
        lessons: { type: 'string' },
        seats: { type: 'string' },
        opens: { type: 'string' },
        closes: { type: 'string' },
        lang: { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new UsageError(`workshop ${action}: ${(err as Error).message.split('\n')[0]} (usage: ${WORKSHOP_SYNOPSIS})`);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) return 'help';
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const only = (allowed: string[], positionals: number) => {
    for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new UsageError(`workshop ${action}: --${k} does not apply here`);
    if (parsed.positionals.length > positionals) throw new UsageError(`workshop ${action}: unexpected argument '${parsed.positionals[positionals]}'`);
  };
  switch (action) {
    case 'create': {
      only(['title', 'lessons', 'seats', 'opens', 'closes', 'lang'], 0);
      const title = str('title')?.trim();
      if (!title) throw new UsageError('workshop create: --title is needed');
      const lessons = (str('lessons') ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (!lessons.length) throw new UsageError('workshop create: --lessons is needed (comma-separated lesson ids, e.g. uts,pid,mount)');
      for (const l of lessons) if (!isName(l)) throw new UsageError(`workshop create: '${l}' is not a lesson id (see nslab lessons)`);
      const seatsText = str('seats');
      const seats = Number(seatsText);
      if (!seatsText || !Number.isInteger(seats) || seats < 1 || seats > 500) throw new UsageError('workshop create: --seats is a whole number from 1 to 500');
      const opens = checkTime('opens', str('opens'));
      const closes = checkTime('closes', str('closes'));
      return {
        kind: 'workshop',
        action,
        title,
        lessons,
        seats,
        lang: checkLang(str('lang')),
        ...(opens ? { opens } : {}),
        ...(closes ? { closes } : {}),
      };
    }
    case 'ls':
      only([], 0);
      return { kind: 'workshop', action };
    case 'show':
    case 'close':
      only([], 1);
      return { kind: 'workshop', action, workshop: checkId(parsed.positionals[0]) };
    case 'link':
      only(['lang'], 1);
      return { kind: 'workshop', action, workshop: checkId(parsed.positionals[0]), lang: checkLang(str('lang')) };
    default:
      throw new UsageError(`workshop: unknown action '${action}' (create, ls, show, close or link)`);
  }
}

const joinUrl = (base: string, lang: string, code: string) => `${base}/${lang}/join?code=${encodeURIComponent(code)}`;
const instructorUrl = (base: string, lang: string, id: string, key: string) => `${base}/${lang}/instructor/${id}#key=${encodeURIComponent(key)}`;

/** Run a workshop command; `base` is the agent's address as the user named it (NSLAB_URL). */
export async function workshopCommand(client: AgentClient, stdout: CliOutput, cmd: WorkshopCommand, base: string): Promise<number> {
  const url = base.replace(/\/+$/, '');
  switch (cmd.action) {
    case 'create': {
      const w = parseReply(
        WorkshopInfo.extend({ instructorKey: z.string() }),
        await client.request({
          type: 'workshop-create',
          title: cmd.title,
          lessons: cmd.lessons,
          seats: cmd.seats,
          ...(cmd.opens ? { opens: cmd.opens } : {}),
          ...(cmd.closes ? { closes: cmd.closes } : {}),
        }),
        'workshop-create',
      );
      stdout.write(
        [
          `workshop: ${w.id}`,
          `title: ${w.title}`,
          `lessons: ${w.lessons.join(', ')}`,
          `seats: ${w.seats}`,
          `state: ${w.state}${w.opensAt ? ` (opens ${w.opensAt})` : ''}${w.closesAt ? ` (closes ${w.closesAt})` : ''}`,
          `code: ${w.code}`,
          `say: ${formatJoinCode(w.code)}`,
          `join: ${joinUrl(url, cmd.lang, w.code)}`,
          `instructor: ${instructorUrl(url, cmd.lang, w.id, w.instructorKey)}`,
          '',
        ].join('\n'),
      );
      return 0;
    }
    case 'ls': {
      const all = parseReply(z.array(WorkshopInfo), await client.request({ type: 'workshop-list' }), 'workshop-list');
      if (!all.length) {
        stdout.write('No workshops yet. Make one with: nslab workshop create --title ... --lessons uts --seats 30\n');
        return 0;
      }
      stdout.write(
        formatTable([
          ['WORKSHOP', 'STATE', 'SEATS', 'CODE', 'AGE', 'TITLE'],
          ...all.map((w) => [w.id, w.state, `${w.taken}/${w.seats}`, w.code, formatAge(w.createdAt, new Date()), w.title]),
        ]),
      );
      return 0;
    }
    case 'show': {
      const s = parseReply(WorkshopState, await client.request({ type: 'workshop-show', workshop: cmd.workshop }), 'workshop-show');
      const total = s.plan.reduce((n, l) => n + l.tasks.length, 0);
      const out = [
        `workshop: ${s.id}`,
        `title: ${s.title}`,
        `state: ${s.state}`,
        `lessons: ${s.lessons.join(', ')}`,
        `seats: ${s.taken}/${s.seats}`,
        `code: ${s.code}`,
        `join: ${joinUrl(url, 'en', s.code)}`,
        '',
      ];
      if (!s.learners.length) out.push('No learners yet.');
      for (const l of s.learners)
        out.push(`${l.name}\t${l.done.length}/${total} tasks\t${l.lesson ? `in ${l.lesson}` : 'no lab'}${l.connected ? '' : ' (not connected)'}`);
      if (s.help.length) {
        out.push('', 'Help requests:');
        for (const h of s.help) out.push(`${h.askedAt}\t${h.name}\t${h.text || '(no text)'}`);
      }
      stdout.write(`${out.join('\n')}\n`);
      return 0;
    }
    case 'close': {
      const r = parseReply(
        z.object({ closed: z.literal(true), labs: z.number() }),
        await client.request({ type: 'workshop-close', workshop: cmd.workshop }),
        'workshop-close',
      );
      stdout.write(`closed: ${cmd.workshop} (${r.labs} labs closed)\n`);
      return 0;
    }
    case 'link': {
      const r = parseReply(z.object({ instructorKey: z.string() }), await client.request({ type: 'workshop-rekey', workshop: cmd.workshop }), 'workshop-rekey');
      stdout.write(`instructor: ${instructorUrl(url, cmd.lang, cmd.workshop, r.instructorKey)}\n`);
      return 0;
    }
  }
}

// The bench's `soak` group: the soak with its chaos for a few minutes, beside the same learners
// without chaos (a shorter run) where a baseline makes sense.
import { round, type Findings, type Metric } from '../util.js';
import { formatReport, runSoak, SOAK_DEFAULTS, type SoakReport } from './run.js';

export interface SoakGroupOptions {
  seconds: number;
  /** The run without chaos (0: none). */
  baselineSeconds: number;
  say: (msg: string) => void;
  findings: Findings;
}

export async function runSoakGroup(o: SoakGroupOptions): Promise<Metric[]> {
  const run = async (seconds: number, chaos: boolean): Promise<SoakReport> => {
    const r = await runSoak({ ...SOAK_DEFAULTS, seconds, chaos, seed: Math.floor(Math.random() * 2 ** 31), say: o.say });
    for (const line of formatReport(r).split('\n')) o.say(`  ${line}`);
    o.findings.stalls.push(...r.stats.stalls.map((s) => ({ ...s, who: `soak${chaos ? '' : ' (no chaos)'}: ${s.who}` })));
    if (r.problems.length) o.findings.errors.push(`soak${chaos ? '' : ' (no chaos)'}: ${r.problems.join(' | ')}`);
    return r;
  };
  const base = o.baselineSeconds > 0 ? await run(o.baselineSeconds, false) : null;
  const r = await run(o.seconds, true);
  const p99 = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]! : NaN;
  };
  const metrics: Metric[] = [
    {
      name: 'soak_rounds_per_min',
      value: round(r.roundsPerMin),
      unit: '1/min',
      ...(base ? { baseline: 'the same learners, no chaos', baseline_value: round(base.roundsPerMin) } : {}),
    },
    { name: 'soak_stalls', value: r.stats.stalls.length, unit: 'count' },
    { name: 'soak_lost_bytes', value: r.stats.lostBytes + r.stats.repeatedBytes, unit: 'bytes' },
    { name: 'soak_seq_numbers_checked', value: r.stats.seq.numbers, unit: 'lines' },
    {
      name: 'soak_ctrl_c_prompt_ms_p99',
      value: round(p99(r.stats.ctrlCMs)),
      unit: 'ms',
      ...(base ? { baseline: 'no chaos', baseline_value: round(p99(base.stats.ctrlCMs)) } : {}),
    },
    { name: 'soak_agent_rss_mb_end', value: round(r.rss.end), unit: 'MB', baseline: 'agent RSS at the start', baseline_value: round(r.rss.start) },
    { name: 'soak_agent_rss_growth_mb', value: round(r.rss.end - r.rss.start), unit: 'MB' },
    { name: 'soak_agent_fds_end', value: r.fds.end, unit: 'fds', baseline: 'at the start', baseline_value: r.fds.start },
    { name: 'soak_leftovers', value: r.leftovers.length, unit: 'count' },
  ];
  return metrics;
}

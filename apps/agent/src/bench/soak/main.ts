// `npm run soak -- --minutes N` (or `--seconds N`): simulated learners and a chaos loop against an
// agent of the soak's own for that long, then one table; the exit code is non-zero on any stall,
// any byte lost or repeated, any fault nobody was told about, or anything left behind.
// Options: --learners (4), --seq-lines (2000000), --no-chaos, --seed, --instance (nslabsoak),
// --id-base (700000000), --json (the table's figures as one JSON line on stdout).
import { checkHost } from '../../preflight.js';
import { stopAllChildren } from '../child.js';
import { formatReport, runSoak, SOAK_DEFAULTS } from './run.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number`);
  return v;
};
const str = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};

async function main() {
  const problem = checkHost();
  if (problem) throw new Error(problem);
  const seconds = args.includes('--seconds') ? opt('seconds', 60) : opt('minutes', 1) * 60;
  const report = await runSoak({
    seconds,
    learners: opt('learners', SOAK_DEFAULTS.learners),
    seqLines: opt('seq-lines', SOAK_DEFAULTS.seqLines),
    chaos: !args.includes('--no-chaos'),
    instance: str('instance', SOAK_DEFAULTS.instance),
    idBase: opt('id-base', SOAK_DEFAULTS.idBase),
    seed: opt('seed', Math.floor(Math.random() * 2 ** 31)),
    say: (m) => process.stderr.write(m + '\n'),
  });
  process.stdout.write(formatReport(report) + '\n');
  if (args.includes('--json')) {
    const s = report.stats;
    process.stdout.write(
      JSON.stringify({
        seconds: report.seconds,
        rounds: s.roundsTotal,
        roundsPerMin: report.roundsPerMin,
        stalls: s.stalls,
        lostBytes: s.lostBytes,
        repeatedBytes: s.repeatedBytes,
        seq: s.seq,
        failed: Object.fromEntries(s.failed),
        told: Object.fromEntries(s.told),
        rss: report.rss,
        fds: report.fds,
        leftovers: report.leftovers,
        problems: report.problems,
      }) + '\n',
    );
  }
  process.exit(report.problems.length ? 1 : 0);
}

process.on('unhandledRejection', (err) => {
  process.stderr.write(`soak: unhandled rejection: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exitCode = 1;
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`soak: ${sig}, stopping its agent...\n`);
    void stopAllChildren().finally(() => process.exit(130));
  });
}
main().catch(async (err) => {
  process.stderr.write(`soak: ${(err as Error).stack ?? err}\n`);
  await stopAllChildren();
  process.exit(1);
});

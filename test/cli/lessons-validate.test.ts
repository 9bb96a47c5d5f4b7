// `nslab lessons validate [DIR]`: what the parser accepts, and what the command prints and
// returns for a broken directory, for the shipped lessons and for the default directory.
import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { CliError, UsageError } from '../../apps/agent/src/cli/errors.ts';
import { defaultLessonsDir, lessonsValidateCommand, parseLessonsValidate } from '../../apps/agent/src/cli/lessons-validate.ts';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';

const BROKEN = join(REPO_ROOT, 'test/fixtures/lessons-broken');
const CONTENT = join(REPO_ROOT, 'content/lessons');

function output() {
  const o = {
    text: '',
    write(chunk: string | Uint8Array) {
      o.text += String(chunk);
      return true;
    },
  };
  return o;
}

function run(cmd: ReturnType<typeof parseLessonsValidate>, env: Record<string, string | undefined> = {}) {
  assert.notEqual(cmd, 'help');
  const stdout = output();
  const stderr = output();
  const code = lessonsValidateCommand(stdout, stderr, cmd as Exclude<typeof cmd, 'help'>, env);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

test('lessons validate: the forms it takes', () => {
  assert.deepEqual(parseLessonsValidate([]), { kind: 'lessons', action: 'validate' });
  assert.deepEqual(parseLessonsValidate(['my-lessons']), { kind: 'lessons', action: 'validate', dir: 'my-lessons' });
  assert.deepEqual(parseLessonsValidate(['--', '-odd']), { kind: 'lessons', action: 'validate', dir: '-odd' });
  assert.equal(parseLessonsValidate(['--help']), 'help');
  assert.equal(parseLessonsValidate(['x', '-h']), 'help');
  for (const [args, want] of [
    [['a', 'b'], /unexpected argument 'b'/],
    [['--strict'], /unknown option '--strict'/],
    [[''], /directory name is empty/],
  ] as const) {
    assert.throws(
      () => parseLessonsValidate([...args]),
      (err: unknown) => err instanceof UsageError && err.exitCode === 2 && want.test(err.message),
      args.join(' '),
    );
  }
});

test('lessons validate DIR: every problem as file:line: field: reason, file by file, then the summary; exit 1', () => {
  const r = run(parseLessonsValidate([BROKEN]));
  assert.equal(r.code, 1);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 15);
  for (const line of lines) assert.match(line, /^test\/fixtures\/lessons-broken\/(en|zh)\/[a-z]+\.md(:\d+)?: [^ :]+( [^ :]+)?: \S/, line);
  // Named relative to the working directory, in file order, each file's problems in line order.
  const at = (line: string) => {
    const m = /^([^:]+?)(?::(\d+))?: /.exec(line)!;
    return [m[1]!, Number(m[2] ?? 0)] as const;
  };
  for (let i = 1; i < lines.length; i++) {
    const [[fa, la], [fb, lb]] = [at(lines[i - 1]!), at(lines[i]!)];
    assert.ok(fa < fb || (fa === fb && la <= lb), `${lines[i - 1]} before ${lines[i]}`);
  }
  const rel = (p: string) => relative(process.cwd(), join(BROKEN, p));
  assert.equal(lines[0], `${rel('en/dupstep.md')}:26: steps.look: duplicate step id`);
  assert.ok(lines.includes(`${rel('zh/panes.md')}:28: steps.name-it.commands.0.pane: no pane "contianer"`));
  assert.ok(lines.includes(`${rel('zh/lonely.md')}: file: lesson "lonely" has no zh version`));
  for (const f of ['en/dupstep.md', 'en/panes.md', 'en/yaml.md', 'zh/lonely.md', 'zh/panes.md', 'zh/tasks.md']) {
    assert.ok(
      lines.some((l) => l.startsWith(`${rel(f)}:`)),
      `${f} is named`,
    );
  }
  assert.ok(!lines.some((l) => l.includes('good.md')), 'a good lesson has no problem');
  assert.equal(r.stdout, '6 lessons, 11 files: 15 problems in 6 files\n');
});

test('lessons validate on the shipped lessons: the one-line summary, exit 0', () => {
  const r = run(parseLessonsValidate([relative(process.cwd(), CONTENT)]));
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  const m = /^(\d+) lessons, (\d+) files: no problems\n$/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.ok(Number(m[1]) >= 8);
  assert.equal(Number(m[2]), 2 * Number(m[1]));
});

test('lessons validate without DIR: NSLAB_CONTENT, else the checkout it runs from', () => {
  assert.equal(defaultLessonsDir({}), CONTENT);
  assert.equal(defaultLessonsDir({ NSLAB_CONTENT: 'test/fixtures/lessons-broken' }), join(process.cwd(), 'test/fixtures/lessons-broken'));
  assert.equal(run(parseLessonsValidate([]), { NSLAB_CONTENT: BROKEN }).code, 1);
  assert.equal(run(parseLessonsValidate([]), {}).code, 0);
});

test('lessons validate on a directory that is not there: an error, not a list of problems', () => {
  assert.throws(
    () => run(parseLessonsValidate([join(BROKEN, 'nowhere')])),
    (err: unknown) => err instanceof CliError && err.exitCode === 1 && /nowhere is not a directory/.test(err.message),
  );
});

// The lesson validator: every problem of a directory of lessons in one run, each with its file,
// line and field; the shipped lessons have none; and the loader reports the same rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import { checkLessonText, formatProblem, LessonFormatError, loadLessons, validateLessonDir, type LessonProblem } from '@nslab/shared/content';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';

const BROKEN = join(REPO_ROOT, 'test/fixtures/lessons-broken');
const shown = (lang: string, name: string) => relative(process.cwd(), join(BROKEN, lang, name));
const where = (p: LessonProblem) => `${p.file}${p.line ? `:${p.line}` : ''}: ${p.field}`;

test('a broken directory: every problem at once, each at its file, line and field', () => {
  const report = validateLessonDir(BROKEN);
  const expected = [
    // A task's check on a pane the lesson does not have; a click-to-run block for one; an empty
    // block; a task whose step has nothing to run. Both languages have them.
    ...['en', 'zh'].flatMap((lang) => [
      `${shown(lang, 'panes.md')}:16: tasks.0.check.all.0.pane`,
      `${shown(lang, 'panes.md')}:18: tasks.1.step`,
      `${shown(lang, 'panes.md')}:28: steps.name-it.commands.0.pane`,
      `${shown(lang, 'panes.md')}:32: steps.name-it.commands.1`,
    ]),
    // The zh file's tasks and one of its commands differ from the en file's.
    `${shown('zh', 'tasks.md')}:17: tasks`,
    `${shown('zh', 'tasks.md')}:32: steps.name-it.commands.1`,
    // A step id used twice.
    `${shown('en', 'dupstep.md')}:26: steps.look`,
    // YAML that does not parse (noticed on the line after `order: [5`), and the body's problems too.
    `${shown('en', 'yaml.md')}:5: front matter`,
    `${shown('en', 'yaml.md')}:26: steps`,
    `${shown('en', 'yaml.md')}:28: steps.look`,
    // No zh file: there is no line to point at.
    `${shown('zh', 'lonely.md')}: file`,
  ];
  assert.deepEqual(report.problems.map(where).sort(), expected.sort());

  const reason = (at: string) => report.problems.find((p) => where(p) === at)?.reason;
  assert.equal(reason(`${shown('en', 'panes.md')}:16: tasks.0.check.all.0.pane`), 'no pane "hots"');
  assert.equal(reason(`${shown('en', 'panes.md')}:28: steps.name-it.commands.0.pane`), 'no pane "contianer"');
  assert.match(reason(`${shown('en', 'panes.md')}:32: steps.name-it.commands.1`) ?? '', /needs a command/);
  assert.match(reason(`${shown('en', 'panes.md')}:18: tasks.1.step`) ?? '', /step "look" has no click-to-run command/);
  assert.equal(reason(`${shown('zh', 'tasks.md')}:17: tasks`), `differs from ${shown('en', 'tasks.md')}; the languages must agree`);
  assert.equal(reason(`${shown('zh', 'tasks.md')}:32: steps.name-it.commands.1`), `differs from ${shown('en', 'tasks.md')}:32; the languages must agree`);
  assert.equal(reason(`${shown('en', 'dupstep.md')}:26: steps.look`), 'duplicate step id');
  assert.match(reason(`${shown('en', 'yaml.md')}:5: front matter`) ?? '', /^not valid YAML: /);
  assert.match(reason(`${shown('en', 'yaml.md')}:26: steps`) ?? '', /a step heading needs an id/);
  assert.match(reason(`${shown('en', 'yaml.md')}:28: steps.look`) ?? '', /":::deeper" has no closing ":::" line/);
  assert.equal(reason(`${shown('zh', 'lonely.md')}: file`), 'lesson "lonely" has no zh version');

  // Only the lesson with nothing wrong is usable; every file was read.
  assert.deepEqual(
    report.lessons.map((l) => l.id),
    ['good'],
  );
  assert.equal(report.files.length, 11);
  assert.equal(formatProblem(report.problems.find((p) => p.field === 'file')!), `${shown('zh', 'lonely.md')}: file: lesson "lonely" has no zh version`);
});

test('the shipped lessons have no problem, and the loader gives the same lessons', () => {
  const dir = join(REPO_ROOT, 'content/lessons');
  const report = validateLessonDir(dir);
  assert.deepEqual(report.problems.map(formatProblem), []);
  assert.equal(report.files.length, 2 * report.lessons.length);
  assert.ok(report.lessons.length >= 8);
  assert.deepEqual(loadLessons(dir), report.lessons);
});

test('the loader throws the first problem, with its line', () => {
  assert.throws(
    () => loadLessons(BROKEN),
    (err: unknown) => {
      assert.ok(err instanceof LessonFormatError);
      assert.equal(err.message, `${shown('en', 'dupstep.md')}: steps.look: duplicate step id`);
      assert.equal(err.line, 26);
      return true;
    },
  );
});

const lesson = (fm: string, body: string) => `---\n${fm}\n---\n${body}`;
const FM = [
  'id: demo',
  'lang: en',
  'order: 1',
  'title: Demo',
  'summary: A demo.',
  'panes:',
  '  - { name: host, unshare: [] }',
  '  - { name: container, unshare: [uts] }',
  'tasks:',
  '  - id: named',
  '    step: name-it',
  '    title: Named',
  '    check:',
  '      all:',
  '        - { pane: container, run: uname -n, stdout: bird }',
].join('\n');
const BODY = ['Intro.', '', '## Name it {#name-it}', '', '```sh pane=container', 'hostname -b bird', '```', ''].join('\n');

test('a good file has no problem; its click-to-run blocks and steps come with their lines', () => {
  const checked = checkLessonText(lesson(FM, BODY), 'demo.md');
  assert.deepEqual(checked.problems, []);
  assert.equal(checked.doc?.id, 'demo');
  assert.deepEqual(
    checked.steps.map((s) => [s.id, s.line, s.commands]),
    [['name-it', 20, [{ pane: 'container', command: 'hostname -b bird', line: 22 }]]],
  );
  // The same with Windows line ends.
  const crlf = checkLessonText(lesson(FM, BODY).replace(/\n/g, '\r\n'), 'demo.md');
  assert.deepEqual(crlf.problems, []);
  assert.deepEqual(crlf.steps[0]?.commands, [{ pane: 'container', command: 'hostname -b bird', line: 22 }]);
});

test('every schema problem of a front matter, each at the line of its field', () => {
  const fm = FM.replace('title: Demo\n', '').replace('unshare: [uts]', 'unshare: [utz]').replace('stdout: bird', 'stdot: bird');
  const problems = checkLessonText(lesson(fm, BODY), 'demo.md').problems.map((p) => `${p.line}: ${p.field}`);
  // No title: the line of the front matter's first field; the unknown key: its own line.
  assert.deepEqual(problems.sort(), ['2: title', '8: panes.1.unshare.0', '15: tasks.0.check.all.0'].sort());
});

test('code blocks: fences as the web reads them, panes checked, :::deeper inside code ignored', () => {
  const body = [
    'Intro.',
    '',
    '## Name it {#name-it}',
    '',
    '~~~sh pane=container',
    'hostname -b bird',
    '```',
    ':::',
    '~~~',
    '',
    '```sh pane=Host',
    'echo',
    '```',
    '',
    '```sh pane=container',
    'unclosed',
  ].join('\n');
  const checked = checkLessonText(lesson(FM, body), 'demo.md');
  assert.deepEqual(
    checked.problems.map((p) => `${p.line}: ${p.field}: ${p.reason}`),
    [
      '28: steps.name-it.commands.1.pane: "Host" is not a pane name (a lowercase word)',
      '32: steps.name-it: this code block is not closed before the next step or the end of the file',
    ],
  );
  // The ~~~ block runs to its own closing fence: the ``` and ::: inside are its text.
  assert.deepEqual(checked.steps[0]?.commands[0], { pane: 'container', command: 'hostname -b bird\n```\n:::', line: 22 });
});

test('delegatedCgroup: a pane may ask for the delegated cgroup subtree of the lab, with true or false and nothing else', () => {
  const asking = FM.replace('{ name: container, unshare: [uts] }', '{ name: container, unshare: [uts], delegatedCgroup: true }');
  const checked = checkLessonText(lesson(asking, BODY), 'demo.md');
  assert.deepEqual(checked.problems, []);
  assert.equal(checked.doc?.panes[1]?.delegatedCgroup, true);
  const wrong = checkLessonText(lesson(FM.replace('unshare: [uts] }', 'unshare: [uts], delegatedCgroup: yes }'), BODY), 'demo.md');
  assert.deepEqual(
    wrong.problems.map((p) => `${p.line}: ${p.field}`),
    ['9: panes.1.delegatedCgroup'],
  );
  assert.match(wrong.problems[0]!.reason, /boolean/);
  const misspelt = checkLessonText(lesson(FM.replace('unshare: [uts] }', 'unshare: [uts], delegateCgroup: true }'), BODY), 'demo.md');
  assert.deepEqual(
    misspelt.problems.map((p) => p.field),
    ['panes.1'],
  );
});

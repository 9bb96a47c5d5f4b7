// The lesson loader: good files load; a malformed file fails with its name and the field.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, cpSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLesson, loadLessons, LessonFormatError } from '@nslab/shared/content';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';

const good = `---
id: demo
lang: en
order: 1
title: Demo
summary: A demo.
panes:
  - { name: host, unshare: [] }
  - { name: container, unshare: [uts] }
tasks:
  - id: named
    step: name-it
    title: Named
    check:
      all:
        - { pane: container, run: uname -n, stdout: bird }
---
Intro text.

## Name it {#name-it}

\`\`\`sh pane=container
hostname -b bird
\`\`\`
`;

test('a good lesson parses into front matter, intro and steps', () => {
  const doc = parseLesson(good, 'demo.md');
  assert.equal(doc.id, 'demo');
  assert.equal(doc.intro, 'Intro text.');
  assert.deepEqual(
    doc.steps.map((s) => [s.id, s.title]),
    [['name-it', 'Name it']],
  );
  assert.match(doc.steps[0]!.markdown, /pane=container/);
  assert.equal(doc.tasks[0]!.check.all[0]!.stdout, 'bird');
});

const broken: Array<[string, (s: string) => string, RegExp]> = [
  ['no front matter', (s) => s.replace(/^---\n/, ''), /bad\.md: front matter: the file must start/],
  ['bad YAML', (s) => s.replace('order: 1', 'order: [1'), /bad\.md: front matter: not valid YAML/],
  ['missing title', (s) => s.replace('title: Demo\n', ''), /bad\.md: title: /],
  ['unknown namespace type', (s) => s.replace('unshare: [uts]', 'unshare: [utz]'), /bad\.md: panes\.1\.unshare\.0: /],
  ['first panes not host, container', (s) => s.replace('name: host', 'name: main'), /bad\.md: panes: the first two panes are host and container/],
  ['check on a missing pane', (s) => s.replace('pane: container, run', 'pane: hots, run'), /bad\.md: tasks\.0\.check\.all\.0\.pane: no pane "hots"/],
  ['task on a missing step', (s) => s.replace('step: name-it', 'step: nowhere'), /bad\.md: tasks\.0\.step: no step with id "nowhere"/],
  ['unknown check field', (s) => s.replace('stdout: bird', 'stdot: bird'), /bad\.md: tasks\.0\.check\.all\.0: /],
  ['bad regex', (s) => s.replace('stdout: bird', 'match: "("'), /bad\.md: tasks\.0\.check\.all\.0\.match: not a valid regular expression/],
  ['step without id', (s) => s.replace('## Name it {#name-it}', '## Name it'), /bad\.md: steps: a step heading needs an id/],
];
for (const [what, mutate, message] of broken) {
  test(`a malformed lesson names file and field: ${what}`, () => {
    assert.throws(
      () => parseLesson(mutate(good), 'bad.md'),
      (err: unknown) => {
        assert.ok(err instanceof LessonFormatError);
        assert.match((err as Error).message, message);
        return true;
      },
    );
  });
}

/** A scratch lesson directory of the test's own, removed when the test ends. */
function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'nslab-content-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('the languages must agree on panes and checks', (t) => {
  const dir = scratch(t);
  cpSync(join(REPO_ROOT, 'content/lessons'), dir, { recursive: true });
  const zh = join(dir, 'zh', 'uts.md');
  writeFileSync(zh, readFileSync(zh, 'utf8').replace(/stdout: bird/, 'stdout: sparrow'));
  assert.throws(() => loadLessons(dir), /zh\/uts\.md: tasks: differs from .*en\/uts\.md/);
});

test('a lesson missing in one language is an error', (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, 'en'));
  mkdirSync(join(dir, 'zh'));
  writeFileSync(join(dir, 'en', 'demo.md'), good);
  assert.throws(() => loadLessons(dir), /zh\/demo\.md: file: lesson "demo" has no zh version/);
});

test('the web renders each lesson page once, and keeps nothing for ids that are not lessons', async () => {
  const { lessonPage, renderedPages } = await import('../../apps/web/lib/content.ts');
  const first = lessonPage('uts', 'en');
  assert.ok(first, 'the shipped uts lesson renders');
  assert.equal(lessonPage('uts', 'en'), first, 'the second time is the same page, not a new render');
  const kept = renderedPages();
  // Any id can be asked for in a URL: a thousand misses leave the cache as it was.
  for (let i = 0; i < 1000; i++) assert.equal(lessonPage(`nosuch-${i}`, 'en'), null);
  assert.equal(renderedPages(), kept);
});

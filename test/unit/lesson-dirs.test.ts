// Several content directories: merged in course order; a lesson id found in two of them an error
// naming both files; the content setting as a string, a list or NSLAB_CONTENT with ':', and the
// word `shipped`; the catalogue reloading a directory (a broken file keeps its last good lesson).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { LessonFormatError, loadLessons, validateLessonDirs } from '@nslab/shared/content';
import { REPO_ROOT } from '../../apps/agent/src/paths.ts';
import { contentDirs, loadConfig, SHIPPED_CONTENT_DIR } from '../../apps/agent/src/config.ts';
import { Catalogue } from '../../apps/agent/src/lessons/catalogue.ts';

const SHIPPED = join(REPO_ROOT, 'content', 'lessons');

/** A directory with copies of some shipped lessons, the `order` of each changed as asked. */
function lessonDir(lessons: Record<string, number>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nslab-lesson-dirs-'));
  for (const lang of ['en', 'zh']) {
    mkdirSync(join(dir, lang));
    for (const [id, order] of Object.entries(lessons)) {
      const text = readFileSync(join(SHIPPED, lang, `${id}.md`), 'utf8').replace(/^order: \d+$/m, `order: ${order}`);
      writeFileSync(join(dir, lang, `${id}.md`), text);
    }
  }
  return dir;
}

/** A copy of lesson `id` under another id. */
function renamed(dir: string, from: string, to: string, order: number) {
  for (const lang of ['en', 'zh']) {
    const text = readFileSync(join(SHIPPED, lang, `${from}.md`), 'utf8')
      .replace(/^id: .*$/m, `id: ${to}`)
      .replace(/^order: \d+$/m, `order: ${order}`);
    writeFileSync(join(dir, lang, `${to}.md`), text);
  }
}

test('several directories are merged in course order', () => {
  const a = lessonDir({ uts: 30, pid: 10 });
  const b = lessonDir({});
  renamed(b, 'ipc', 'my-ipc', 20);
  renamed(b, 'uts', 'my-first', 5);
  try {
    const report = validateLessonDirs([a, b]);
    assert.deepEqual(report.problems, []);
    assert.deepEqual(
      report.lessons.map((l) => l.id),
      ['my-first', 'pid', 'my-ipc', 'uts'],
    );
    assert.equal(report.files.length, 8);
    assert.deepEqual(
      loadLessons([a, b]).map((l) => l.id),
      ['my-first', 'pid', 'my-ipc', 'uts'],
    );
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('the same lesson id in two directories is an error naming both files', () => {
  const a = lessonDir({ uts: 1, pid: 2 });
  const b = lessonDir({ uts: 7 });
  try {
    const report = validateLessonDirs([a, b]);
    const shown = (d: string, lang: string) => relative(process.cwd(), join(d, lang, 'uts.md'));
    const dup = report.problems.filter((p) => p.field === 'id');
    assert.equal(dup.length, 2, JSON.stringify(report.problems));
    for (const lang of ['en', 'zh']) {
      const p = dup.find((x) => x.file === shown(b, lang));
      assert.ok(p, `a problem in ${shown(b, lang)}`);
      assert.ok(p.reason.includes(shown(a, lang)), p.reason);
      assert.ok(p.line > 0);
      assert.match(readFileSync(join(b, lang, 'uts.md'), 'utf8').split('\n')[p.line - 1]!, /^id: uts$/);
    }
    // The first directory's lesson stays; the later copy is not served.
    assert.deepEqual(
      report.lessons.map((l) => l.id),
      ['uts', 'pid'],
    );
    assert.equal(report.lessons[0]!.order, 1);
    // The loader stops at it, with both files in its message.
    assert.throws(
      () => loadLessons([a, b]),
      (err: unknown) => err instanceof LessonFormatError && err.message.includes(shown(a, 'en')) && err.message.includes(shown(b, 'en')),
    );
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('a broken copy of a lesson still clashes with the other directory', () => {
  const a = lessonDir({ uts: 1 });
  const b = lessonDir({ uts: 2 });
  writeFileSync(join(b, 'en', 'uts.md'), '---\nid: uts\nlang: en\n');
  try {
    const report = validateLessonDirs([a, b]);
    assert.ok(report.problems.some((p) => p.field === 'id' && p.file.endsWith(join('en', 'uts.md')) && p.reason.includes('is also in')));
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});

test('the content setting: a directory, a list, NSLAB_CONTENT with colons, and the word shipped', () => {
  assert.deepEqual(contentDirs(null), [SHIPPED_CONTENT_DIR]);
  assert.deepEqual(contentDirs('/srv/lessons'), ['/srv/lessons']);
  assert.deepEqual(contentDirs(['shipped', '/srv/lessons', 'shipped']), [SHIPPED_CONTENT_DIR, '/srv/lessons']);
  const env = (v: string | undefined, fn: () => void) => {
    const old = process.env.NSLAB_CONTENT;
    if (v === undefined) delete process.env.NSLAB_CONTENT;
    else process.env.NSLAB_CONTENT = v;
    try {
      fn();
    } finally {
      if (old === undefined) delete process.env.NSLAB_CONTENT;
      else process.env.NSLAB_CONTENT = old;
    }
  };
  env('/a/lessons:shipped', () => assert.deepEqual(loadConfig({}, {}).contentDirs, ['/a/lessons', SHIPPED_CONTENT_DIR]));
  env(undefined, () => assert.deepEqual(loadConfig({}, { content: ['/x', '/y'] }).contentDirs, ['/x', '/y']));
  env('relative/dir', () => assert.throws(() => loadConfig({}, {}), /NSLAB_CONTENT: "relative\/dir" an absolute directory, or shipped/));
});

test('the catalogue reloads: new text and tasks; a broken file keeps its last good lesson and says why', () => {
  const dir = lessonDir({ uts: 1, pid: 2 });
  try {
    const cat = Catalogue.tolerant([dir]);
    assert.deepEqual(cat.ids(), ['uts', 'pid']);
    const before = cat.content().generation;
    for (const lang of ['en', 'zh']) {
      const file = join(dir, lang, 'uts.md');
      writeFileSync(file, readFileSync(file, 'utf8').replace('stdout: bird', 'stdout: robin').replace('stdoutNot: bird', 'stdoutNot: robin'));
    }
    const changes: string[][] = [];
    cat.on('changed', (c) => changes.push(c.changed));
    const c1 = cat.reload();
    assert.deepEqual(c1.problems, []);
    assert.deepEqual(c1.changed, ['uts']);
    assert.ok(JSON.stringify(cat.get('uts')!.tasks).includes('robin'));
    assert.ok(cat.content().generation > before);
    // Broken: the agent keeps the last good uts (open labs go on), the pages get the problem.
    writeFileSync(join(dir, 'en', 'uts.md'), readFileSync(join(dir, 'en', 'uts.md'), 'utf8').replace(/^order: 1$/m, 'order: first'));
    const c2 = cat.reload();
    assert.ok(
      c2.problems.some((p) => p.field === 'order' && p.file.endsWith(join('en', 'uts.md')) && p.line > 0),
      JSON.stringify(c2.problems),
    );
    assert.ok(cat.get('uts'));
    assert.deepEqual(
      cat.content().lessons.map((l) => l.id),
      ['pid'],
    );
    assert.equal(changes.length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a watching catalogue reloads after an editor saves by rename', async () => {
  const dir = lessonDir({ uts: 1 });
  const cat = Catalogue.tolerant([dir]);
  const stop = cat.watch();
  try {
    const changed = new Promise<string[]>((resolve) => cat.once('changed', (c) => resolve(c.changed)));
    const file = join(dir, 'en', 'uts.md');
    const tmp = join(dir, 'en', '.uts.md.swp');
    writeFileSync(tmp, readFileSync(file, 'utf8').replace(/^title: .*$/m, 'title: "A new title"'));
    cpSync(tmp, `${tmp}2`);
    rmSync(`${tmp}2`);
    const { renameSync } = await import('node:fs');
    renameSync(tmp, file);
    let timer: NodeJS.Timeout | undefined;
    const ids = await Promise.race([
      changed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no reload within 10 s')), 10_000);
      }),
    ]);
    clearTimeout(timer);
    assert.deepEqual(ids, ['uts']);
    assert.equal(cat.get('uts')!.def.title, 'A new title');
  } finally {
    stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

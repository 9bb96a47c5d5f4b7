// The namespace builder's snippets: each of the four (shell, C, Go, TypeScript/koffi) is written
// out, compiled (gcc -Wall -Werror; go vet and go build), run as root with a short probe script as
// the shell's stdin, and checked through /proc: the chosen namespaces are new, every other one is
// the parent's, the uid map, hostname, PID and /proc are as chosen. Nested choices run inside a
// pane that an earlier snippet made.
//
// Where: in a real lab, as its root in the host pane (where a learner would paste them), through
// the agent's own exec; and a few again as host root, in the initial user namespace. Each program
// runs in a scratch mount namespace of the test's own (`unshare --mount --propagation private`),
// so a /proc it mounts can never reach the lab's (or the host's) mount table. The lab hides the
// repository: the programs are built under /var/tmp, which the lab sees, and the TypeScript one
// runs with copies of tsx and koffi there.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { useTestAgent } from '../helpers/agent.ts';
import { BuilderChoiceSchema, NAMESPACE_TYPES, builderProblems, builderSnippets, type BuilderChoice } from '@nslab/shared';
import {
  LANGS,
  NS_LINKS,
  buildSnippets,
  expectedNew,
  hostRunner,
  inspect,
  labRunner,
  probe,
  removeDir,
  snippetCommand,
  snippetTestsSkip,
  startPane,
  workDir,
  type Probe,
  type Reference,
  type Runner,
} from './harness.ts';

const none = { mapUser: false, mountProc: false, fork: false };
const ALL: BuilderChoice = { types: [...NAMESPACE_TYPES], mapUser: true, mountProc: true, fork: true, hostname: 'box' };

describe('builderProblems and BuilderChoiceSchema', () => {
  test('a valid choice has no problems and parses', () => {
    for (const c of [ALL, { types: [], ...none }, { types: ['pid' as const], ...none }, { types: ['user' as const], ...none }]) {
      assert.deepEqual(builderProblems(c), [], JSON.stringify(c));
      assert.deepEqual(BuilderChoiceSchema.parse(c), c);
    }
  });

  test('each option without what it needs is a problem, in words', () => {
    const cases: Array<[BuilderChoice, RegExp]> = [
      [{ types: ['uts'], ...none, mapUser: true }, /user namespace: tick user/],
      [{ types: ['uts'], ...none, fork: true }, /tick pid/],
      [{ types: ['pid'], ...none, mountProc: true, fork: true }, /tick mnt and pid/],
      [{ types: ['mnt'], ...none, mountProc: true }, /tick mnt and pid/],
      [{ types: ['mnt', 'pid'], ...none, mountProc: true }, /needs fork/],
      [{ types: ['net'], ...none, hostname: 'box' }, /UTS namespace/],
      [{ types: ['uts'], ...none, hostname: '-bad' }, /Bad hostname/],
      [{ types: ['uts'], ...none, hostname: 'a'.repeat(65) }, /Bad hostname/],
      [{ types: ['uts'], ...none, hostname: "x'; rm -rf /" }, /Bad hostname/],
      [{ types: ['uts', 'user'], ...none, hostname: 'box' }, /map the user to root/],
      [{ types: ['user', 'pid', 'mnt'], ...none, fork: true, mountProc: true }, /map the user to root/],
      [{ types: ['uts', 'uts'], ...none }, /once/],
      [{ types: ['bogus' as never], ...none }, /Unknown namespace type "bogus"/],
      [null as never, /A choice is an object/],
    ];
    for (const [c, re] of cases) {
      const problems = builderProblems(c);
      assert.ok(
        problems.some((p) => re.test(p)),
        `${JSON.stringify(c)}: ${JSON.stringify(problems)}`,
      );
      assert.throws(() => builderSnippets(c), /cannot build this pane/);
    }
  });

  test('the schema is strict: unknown keys, duplicates, bad hostnames and wrong types are refused', () => {
    assert.equal(BuilderChoiceSchema.safeParse({ ...ALL, extra: 1 }).success, false);
    assert.equal(BuilderChoiceSchema.safeParse({ ...ALL, types: ['uts', 'uts'] }).success, false);
    assert.equal(BuilderChoiceSchema.safeParse({ ...ALL, types: ['nope'] }).success, false);
    assert.equal(BuilderChoiceSchema.safeParse({ ...ALL, hostname: 'a b' }).success, false);
    assert.equal(BuilderChoiceSchema.safeParse({ ...ALL, hostname: '' }).success, false);
    assert.equal(BuilderChoiceSchema.safeParse({ ...ALL, fork: 'yes' }).success, false);
    assert.equal(BuilderChoiceSchema.safeParse({ types: [] }).success, false);
    assert.equal(BuilderChoiceSchema.safeParse({ ...ALL, hostname: 'lab-1.example' }).success, true);
  });

  test('nothing new can be made inside a pane with an unmapped user namespace', () => {
    const unmapped: BuilderChoice = { types: ['user', 'net'], ...none };
    assert.match(builderProblems({ types: ['uts'], ...none }, unmapped).join(' '), /unmapped/);
    assert.deepEqual(builderProblems({ types: [], ...none }, unmapped), []);
    assert.deepEqual(builderProblems({ types: ['uts'], ...none }, { ...unmapped, mapUser: true }), []);
    assert.throws(() => builderSnippets({ types: ['uts'], ...none }, { parentPid: 7, parent: unmapped }), /unmapped/);
  });

  test('a bad parent PID is refused', () => {
    for (const parentPid of [0, -1, 1.5, Number.NaN]) assert.throws(() => builderSnippets(ALL, { parentPid }), /parent PID/);
  });

  test('nested snippets name the parent PID, plain ones join nothing', () => {
    const nested = builderSnippets({ types: ['net'], ...none }, { parentPid: 4242 });
    for (const lang of LANGS) assert.match(nested[lang], /\b4242\b/, lang);
    assert.match(nested.shell, /nsenter --target 4242 --all --preserve-credentials -- unshare --net/);
    assert.match(nested.c, /setns\(/);
    const plain = builderSnippets({ types: ['net'], ...none });
    for (const lang of LANGS) assert.doesNotMatch(plain[lang], /nsenter|setns\(fd|libc\.setns|join_namespaces|joinNamespaces|joinParent/, lang);
  });
});

/** The choices run for real: every type alone, all together, each option, and the odd ones. */
const CHOICES: Array<[string, BuilderChoice]> = [
  ['plain shell', { types: [], ...none }],
  ...NAMESPACE_TYPES.map((t): [string, BuilderChoice] => [`${t} alone`, { types: [t], ...none }]),
  ['all eight with every option', ALL],
  ['all eight, no options', { types: [...NAMESPACE_TYPES], ...none }],
  ['pid with fork', { types: ['pid'], ...none, fork: true }],
  ['pid, mnt, fork, mount /proc', { types: ['pid', 'mnt'], ...none, fork: true, mountProc: true }],
  ['user mapped to root', { types: ['user'], ...none, mapUser: true }],
  ['uts with a hostname', { types: ['uts'], ...none, hostname: 'builder-test' }],
  ['time and pid without fork', { types: ['time', 'pid'], ...none }],
  ['user unmapped with net and mnt', { types: ['user', 'net', 'mnt'], ...none }],
];

/** The nested choices, each made inside a parent pane that a snippet made first. */
const PARENTS: Array<[string, BuilderChoice, Array<[string, BuilderChoice]>]> = [
  [
    'a parent in all eight (mapped, own /proc, PID 1)',
    { ...ALL, hostname: 'parent' },
    [
      ['join only', { types: [], ...none }],
      ['net and uts with a hostname', { types: ['net', 'uts'], ...none, hostname: 'child' }],
      ['pid, mnt, fork, mount /proc', { types: ['pid', 'mnt'], ...none, fork: true, mountProc: true }],
      ['all eight with every option', { ...ALL, hostname: 'child' }],
      ['time alone', { types: ['time'], ...none }],
    ],
  ],
  [
    'a parent without a user namespace',
    { types: ['uts', 'pid', 'mnt', 'net'], ...none, fork: true, mountProc: true, hostname: 'parent2' },
    [
      ['user mapped, ipc', { types: ['user', 'ipc'], ...none, mapUser: true }],
      ['cgroup and pid without fork', { types: ['cgroup', 'pid'], ...none }],
    ],
  ],
  ['a parent with an unmapped user namespace', { types: ['user', 'net', 'pid', 'mnt'], ...none, fork: true }, [['join only', { types: [], ...none }]]],
];

/** Everything a probe must show for a choice, against the namespaces it was made from. */
function check(what: string, choice: BuilderChoice, p: Probe, ref: Reference) {
  const fresh = expectedNew(choice.types, choice.fork);
  for (const link of NS_LINKS) {
    if (fresh.has(link)) assert.notEqual(p.ns[link], ref.ns[link], `${what}: ${link} should be new`);
    else assert.equal(p.ns[link], ref.ns[link], `${what}: ${link} should be the parent's`);
  }
  const user = choice.types.includes('user');
  if (choice.mapUser) {
    // Root (the caller, uid 0) is root inside, and nothing else is mapped.
    assert.deepEqual(p.uidMap, ['0 0 1'], `${what}: uid map`);
    assert.equal(p.uid, 0, `${what}: uid`);
  } else if (user) {
    assert.deepEqual(p.uidMap, [], `${what}: an unmapped user namespace has an empty uid map`);
    assert.equal(p.uid, 65534, `${what}: unmapped, the shell is the overflow uid`);
  } else {
    assert.deepEqual(p.uidMap, ref.uidMap, `${what}: uid map (the parent's)`);
  }
  assert.equal(p.hostname, choice.hostname ?? ref.hostname, `${what}: hostname`);
  if (choice.fork) assert.equal(p.pid, 1, `${what}: with fork the shell is PID 1`);
  else assert.notEqual(p.pid, 1, `${what}: without fork the shell is not PID 1`);
  if (choice.types.includes('pid') && !choice.fork) assert.equal(p.childPid, 1, `${what}: without fork the shell's first child is PID 1`);
  if (choice.mountProc) assert.deepEqual(p.procs, ['1'], `${what}: the new /proc shows the new PID namespace alone`);
}

const skip = snippetTestsSkip();

/**
 * Every choice of `choices`, in four languages, run on the runner; then each parent pane (made by
 * its C snippet) with its nested choices.
 */
function runAll(runner: () => Runner, dir: () => string, choices: Array<[string, BuilderChoice]>, parents: typeof PARENTS) {
  let n = 0;
  for (const [name, choice] of choices) {
    test(name, async () => {
      const r = runner();
      const built = buildSnippets(dir(), `${r.name}-c${n++}`, builderSnippets(choice));
      for (const lang of LANGS) {
        const p = await probe(r, snippetCommand(r, built, lang), choice.mountProc, choice.types.includes('pid') && !choice.fork);
        // Compared with the scratch wrapper that started the program.
        check(`${r.name}, ${lang}, ${name}`, choice, p, p.base);
      }
    });
  }
  for (const [parentName, parentChoice, children] of parents) {
    describe(`nested in ${parentName}`, () => {
      let parent: { pid: number; stop(): Promise<void> } | undefined;
      let ref: Reference;
      before(async () => {
        const r = runner();
        const built = buildSnippets(dir(), `${r.name}-p${n++}`, builderSnippets(parentChoice));
        parent = await startPane(r, snippetCommand(r, built, 'c'));
        // The hostname: the parent's own, else the one it inherited (the runner's, filled in below).
        ref = { ...(await inspect(r, parent.pid)), hostname: parentChoice.hostname ?? '' };
      });
      after(async () => {
        await parent?.stop();
      });
      for (const [name, choice] of children) {
        test(name, async () => {
          const r = runner();
          const snippets = builderSnippets(choice, { parentPid: parent!.pid, parent: parentChoice });
          const built = buildSnippets(dir(), `${r.name}-n${n++}`, snippets);
          for (const lang of LANGS) {
            const p = await probe(r, snippetCommand(r, built, lang), choice.mountProc, choice.types.includes('pid') && !choice.fork);
            check(`${r.name}, ${lang}, nested, ${name}`, choice, p, { ...ref, hostname: ref.hostname || p.base.hostname });
          }
          // The parent pane is still there, in the same namespaces.
          assert.deepEqual((await inspect(r, parent!.pid)).ns, ref.ns);
        });
      }
    });
  }
}

describe("the snippets, run as a lab's root in its host pane", { skip }, () => {
  const agent = useTestAgent(skip);
  let dir = '';
  let runner: Runner;
  before(async () => {
    dir = workDir();
    const lab = await agent().manager.open('uts');
    const host = lab.pane('host');
    if (!host) throw new Error('the lab has no host pane');
    runner = labRunner((argv, opts) => lab.exec(host, argv, opts), dir);
  });
  after(() => removeDir(dir));

  test('the check fails on a pane with other namespaces than chosen', async () => {
    const built = buildSnippets(dir, 'wrong', builderSnippets({ types: ['uts'], ...none }));
    const p = await probe(runner, snippetCommand(runner, built, 'c'), false, false);
    check('as chosen', { types: ['uts'], ...none }, p, p.base);
    assert.throws(() => check('net instead', { types: ['net'], ...none }, p, p.base), /uts should be the parent's/);
    assert.throws(() => check('nothing new', { types: [], ...none }, p, p.base), /uts should be the parent's/);
    assert.throws(() => check('mapped', { types: ['uts', 'user'], ...none, mapUser: true }, p, p.base), /user should be new/);
  });

  runAll(
    () => runner,
    () => dir,
    CHOICES,
    PARENTS,
  );
});

describe('the snippets, run as host root', { skip }, () => {
  let dir = '';
  const runner = hostRunner();
  before(() => {
    dir = workDir();
  });
  after(() => removeDir(dir));
  // A few: the lab runs them all; here the same code meets the initial user namespace.
  runAll(
    () => runner,
    () => dir,
    CHOICES.filter(([name]) => ['all eight with every option', 'pid alone', 'user alone', 'time and pid without fork'].includes(name)),
    [[PARENTS[0]![0], PARENTS[0]![1], PARENTS[0]![2].slice(0, 2)]],
  );
});

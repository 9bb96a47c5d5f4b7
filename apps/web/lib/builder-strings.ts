// The namespace builder's strings in both languages. Pure: imported by server and client
// components alike.
import type { Lang } from '@nslab/shared';

const en = {
  title: 'Namespace builder',
  crumb: 'Builder',
  lede: 'Tick any namespaces, make a pane, and see beside it the code that makes exactly that pane: the unshare command, C, Go and the agent’s own TypeScript. Nest a pane inside another one’s namespaces to see how they stack.',
  courseLink: 'Open the namespace builder',
  courseLinkText: 'Combine namespace types freely, nest them, and read the code that makes each shell.',
  formTitle: 'A new pane',
  types: 'New namespaces',
  options: 'Options',
  mapUser: 'Map my user to root (with a user namespace)',
  mountProc: 'Mount a new /proc (with mount and PID namespaces)',
  fork: 'Fork, so the shell is PID 1 (with a PID namespace)',
  hostname: 'Host name (with a UTS namespace)',
  nest: 'Inside',
  nestLab: 'the lab (the host pane’s namespaces)',
  create: 'Create pane',
  creating: 'Creating…',
  close: 'Close',
  closeTitle: (name: string) => `Close pane ${name} and the panes made inside it`,
  limit: (n: number) => `At most ${n} builder panes at once.`,
  code: 'The code that makes this pane',
  copy: 'Copy',
  copied: 'Copied',
  snippet: { shell: 'Shell (unshare)', c: 'C', go: 'Go', ts: 'TypeScript (koffi)' } as Record<'shell' | 'c' | 'go' | 'ts', string>,
  hostPane: 'The lab itself: every pane you make starts from here or from another pane.',
  inside: (parent: string) => `inside ${parent}`,
  nothingNew: 'no new namespaces (a plain shell)',
  back: 'All lessons',
};

export type BuilderStrings = typeof en;

const zh: BuilderStrings = {
  title: '命名空间构建器',
  crumb: '构建器',
  lede: '勾选任意几种命名空间，创建一个窗格，旁边就会给出恰好创建这个窗格的代码：unshare 命令、C、Go，以及 agent 自己的 TypeScript。还可以把新窗格嵌套在另一个窗格的命名空间里，看看它们如何层层叠加。',
  courseLink: '打开命名空间构建器',
  courseLinkText: '自由组合各种命名空间、层层嵌套，并阅读创建每个 shell 的代码。',
  formTitle: '新建窗格',
  types: '新建的命名空间',
  options: '选项',
  mapUser: '把我的用户映射为 root（需要 user 命名空间）',
  mountProc: '挂载新的 /proc（需要 mount 和 PID 命名空间）',
  fork: 'fork 一次，让 shell 成为 1 号进程（需要 PID 命名空间）',
  hostname: '主机名（需要 UTS 命名空间）',
  nest: '位于',
  nestLab: '实验环境本身（host 窗格的命名空间）',
  create: '创建窗格',
  creating: '正在创建…',
  close: '关闭',
  closeTitle: (name: string) => `关闭窗格 ${name} 以及在它里面创建的窗格`,
  limit: (n: number) => `同时最多 ${n} 个构建器窗格。`,
  code: '创建这个窗格的代码',
  copy: '复制',
  copied: '已复制',
  snippet: { shell: 'Shell（unshare）', c: 'C', go: 'Go', ts: 'TypeScript（koffi）' },
  hostPane: '实验环境本身：你创建的每个窗格都从这里或另一个窗格出发。',
  inside: (parent: string) => `位于 ${parent} 之内`,
  nothingNew: '没有新的命名空间（普通 shell）',
  back: '全部课程',
};

export const BUILDER_STRINGS: Record<Lang, BuilderStrings> = { en, zh };

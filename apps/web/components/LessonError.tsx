// A lesson whose file has mistakes, shown instead of the lesson while its author fixes it (with
// the agent watching its lessons, the page comes back by itself when the file is right again):
// every problem as `file:line: field: reason`, as `nslab lessons validate` prints it.
import type { Lang } from '@nslab/shared';

const STRINGS = {
  en: {
    title: 'This lesson does not load',
    body: 'Its files have these problems. Fix them and save: the lesson comes back here by itself when the agent watches its lessons.',
  },
  zh: {
    title: '这一课无法加载',
    body: '它的文件有以下问题。改正并保存后，若 agent 正在监视课程文件，这一课会自动回到这里。',
  },
} as const;

export function LessonError({ lang, problems }: { lang: Lang; problems: string[] }) {
  const s = STRINGS[lang];
  return (
    <main className="lesson-error" data-lesson-error="" role="alert">
      <h1>{s.title}</h1>
      <p>{s.body}</p>
      <ul>
        {problems.map((p) => (
          <li key={p}>
            <code>{p}</code>
          </li>
        ))}
      </ul>
    </main>
  );
}

import { LESSONS, LESSON_IDS, NAMESPACES, type LessonDef, type NamespaceInfo } from '@nslab/shared';

/** The namespaces a lesson's container pane gets beyond the lab's own, in catalogue order. */
function containerNamespaces(lesson: LessonDef): NamespaceInfo[] {
  const pane = lesson.panes.find((p) => p.name === 'container') ?? lesson.panes.find((p) => p.unshare.length > 0);
  return (pane?.unshare ?? []).map((type) => NAMESPACES[type]);
}

export default function HomePage() {
  return (
    <main className="page">
      <header className="hero">
        <p className="eyebrow">nslab</p>
        <h1>Linux namespaces on a real kernel</h1>
        <p className="lede">
          A namespace wraps one global resource of the system (the hostname, the process IDs, the mount table, the network
          stack, the user IDs) so that the processes inside it see a private copy, while everything outside keeps seeing
          the original. A container is not a kernel object of its own: it is a few namespaces plus a cgroup. Here you
          create each one by hand and compare what a host shell and a container shell see.
        </p>
        <p className="lede" lang="zh-Hans">
          {/* One string: JSX would turn each line break inside Chinese text into a stray space. */}
          {'命名空间是 Linux 内核的隔离机制：它把主机名、进程号、挂载表、网络栈、用户 ID 这类全局资源“包”起来，' +
            '让里面的进程看到一份属于自己的副本，而外面的世界毫无察觉。所谓容器，其实就是几种命名空间再加上 cgroup。' +
            '在这里，你将亲手逐一创建它们，并对比宿主机与容器两个终端里看到的不同景象。'}
        </p>
      </header>

      <section aria-labelledby="lessons-heading">
        <div className="section-head">
          <h2 id="lessons-heading">Eight lessons</h2>
          <p className="soon">
            <span className="dot" aria-hidden="true" />
            Interactive lessons are coming soon: each will open a host shell and a container shell side by side.
          </p>
        </div>

        <ol className="lessons">
          {LESSON_IDS.map((id, index) => {
            const lesson = LESSONS[id];
            return (
              <li key={id} className="card" data-lesson={id}>
                <span className="card-index" aria-hidden="true">
                  {String(index + 1).padStart(2, '0')}
                </span>
                <h3 className="card-title">{lesson.title}</h3>
                <dl className="flags">
                  {containerNamespaces(lesson).map((ns) => (
                    <div key={ns.type} className="flag">
                      <dt>
                        <code>{ns.flag}</code>
                      </dt>
                      <dd>Linux {ns.since}</dd>
                    </div>
                  ))}
                </dl>
              </li>
            );
          })}
        </ol>
      </section>

      <footer className="footer">
        <p>
          nslab runs on your own machine: every shell is a real process in real namespaces on this host&apos;s kernel.
        </p>
      </footer>
    </main>
  );
}

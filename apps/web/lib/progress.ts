// Course progress: the agent keeps it for this browser (its session cookie), across reloads and
// restarts of the agent; localStorage is a cache of it, so the course page shows progress at once
// and the agent's answer fills in what this origin's cache has not seen (another port, a new
// browser profile with the same cookie, a cleared cache). A task once done stays done.
const KEY = 'nslab.progress.v1';
type Progress = Record<string, Record<string, true>>;

function read(): Progress {
  try {
    const raw = localStorage.getItem(KEY);
    const v = raw ? (JSON.parse(raw) as unknown) : {};
    return v && typeof v === 'object' ? (v as Progress) : {};
  } catch {
    return {};
  }
}

export function doneTasks(lesson: string): Set<string> {
  return new Set(Object.keys(read()[lesson] ?? {}));
}

export function markDone(lesson: string, tasks: string[]): boolean {
  if (!tasks.length) return false;
  const p = read();
  const l = (p[lesson] ??= {});
  let changed = false;
  for (const t of tasks) {
    if (!l[t]) {
      l[t] = true;
      changed = true;
    }
  }
  if (changed) {
    try {
      localStorage.setItem(KEY, JSON.stringify(p));
      window.dispatchEvent(new Event('nslab-progress'));
    } catch {
      /* private mode: progress is not kept */
    }
  }
  return changed;
}

let synced: Promise<void> | null = null;

/** Merge the agent's record of this browser's progress into the cache (once per page). */
export function syncProgress(): Promise<void> {
  synced ??= (async () => {
    try {
      const res = await fetch('/api/progress', { credentials: 'same-origin', cache: 'no-store' });
      if (!res.ok) return;
      const body = (await res.json()) as { tasks?: Array<{ lesson?: unknown; task?: unknown }> };
      const byLesson = new Map<string, string[]>();
      for (const t of body.tasks ?? []) {
        if (typeof t.lesson !== 'string' || typeof t.task !== 'string') continue;
        byLesson.set(t.lesson, [...(byLesson.get(t.lesson) ?? []), t.task]);
      }
      for (const [lesson, tasks] of byLesson) markDone(lesson, tasks);
    } catch {
      /* the agent is away: the cache is all there is for now */
    }
  })();
  return synced;
}

export function subscribeProgress(fn: () => void): () => void {
  const onStorage = (e: StorageEvent) => {
    if (e.key === KEY) fn();
  };
  window.addEventListener('storage', onStorage);
  window.addEventListener('nslab-progress', fn);
  return () => {
    window.removeEventListener('storage', onStorage);
    window.removeEventListener('nslab-progress', fn);
  };
}

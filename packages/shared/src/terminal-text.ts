// A terminal's bytes as text a program can search: escape sequences removed, and whether a shell
// prompt is on it. Used by the CLI's lesson tests and the bench, which read panes without a screen.

/** Escape sequences (CSI, OSC, charset and single-character ones). */
const ESCAPES = /\x1b\[[0-9;?<=>!]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()*+][0-9A-Za-z]|\x1b[=>78DEHMc]/g;

export function stripEscapes(text: string): string {
  return text.replace(ESCAPES, '');
}

/** A shell prompt (`root@nslab:~# `, `(container)root@nslab:~# `, `$ ` for a user) in a screen's text. */
export function hasPrompt(text: string): boolean {
  return /[\w-]@[\w.-]+:[^\r\n]*[#$] /.test(stripEscapes(text));
}

/** The click-to-run commands of a step's Markdown (```sh pane=<name> blocks), in order. */
export function clickToRun(markdown: string): { pane: string; command: string }[] {
  return [...markdown.matchAll(/^```\S*[^\n]*\bpane=([a-z][a-z0-9-]*)[^\n]*\n([\s\S]*?)^```/gm)].map((m) => ({ pane: m[1]!, command: m[2]!.trim() }));
}

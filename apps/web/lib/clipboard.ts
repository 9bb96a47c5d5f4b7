// The clipboard, for the lesson page (Copy buttons, share links) and the terminals (copy on
// select, right-click paste): writing with a fallback for pages the browser does not let use the
// Clipboard API, reading where the browser lets the page, and a short visual answer on a button.

/** Put `text` on the clipboard; false when the browser let no way of doing it work. */
export async function copy(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall back to the older way */
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.style.position = 'fixed';
  ta.style.opacity = '0';
  document.body.appendChild(ta);
  // Selecting the helper takes the focus: give it back (a terminal keeps its keyboard).
  const active = document.activeElement as HTMLElement | null;
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  active?.focus();
  return ok;
}

/** Whether reading the clipboard is allowed, as far as the page knows ('unknown': try and see). */
let readPermission: PermissionState | 'unknown' = 'unknown';
let watching = false;

/** Start following whether reading is allowed (early: the first right-click then knows). */
export function followClipboardPermission() {
  if (watching || typeof navigator === 'undefined' || !navigator.permissions) return;
  watching = true;
  navigator.permissions
    .query({ name: 'clipboard-read' as PermissionName })
    .then((st) => {
      readPermission = st.state;
      st.onchange = () => (readPermission = st.state);
    })
    .catch(() => {
      /* a browser without that permission name: try readText and see */
    });
}

/**
 * Whether the page may try to read the clipboard itself (a secure page with the Clipboard API,
 * whose permission is not denied). The first call starts following the permission.
 */
export function clipboardReadable(): boolean {
  followClipboardPermission();
  return window.isSecureContext && !!navigator.clipboard?.readText && readPermission !== 'denied';
}

/** The clipboard's text, or null when the browser would not give it. */
export async function readClipboard(): Promise<string | null> {
  try {
    return await navigator.clipboard.readText();
  } catch {
    return null;
  }
}

/** Mark a button for a moment (class `cls`, and `text` instead of its label). */
export function flash(btn: HTMLElement, cls: string, text?: string) {
  const old = btn.innerHTML;
  btn.classList.add(cls);
  if (text) btn.textContent = text;
  setTimeout(() => {
    btn.classList.remove(cls);
    if (text) btn.innerHTML = old;
  }, 1200);
}

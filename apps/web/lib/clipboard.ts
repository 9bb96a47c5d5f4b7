// Copying text from the lesson page (Copy buttons, share links), with a fallback for pages the
// browser does not let use the Clipboard API; and a short visual answer on the button.

export async function copy(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
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

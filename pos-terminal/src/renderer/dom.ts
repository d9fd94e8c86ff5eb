/// <reference lib="dom" />
/** Tiny DOM helpers: escaped HTML templates and element lookup. */
const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export const esc = (v: unknown): string => String(v).replace(/[&<>"']/g, (c) => ESCAPES[c]!);

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
}

/** Replaces a container's content, keeping focus on the element with the same id if there was one. */
export function setHtml(el: HTMLElement, html: string): void {
  if (el.innerHTML === html) return;
  const active = document.activeElement as HTMLElement | null;
  const focusedId = active && el.contains(active) ? active.id : '';
  const selection = active instanceof HTMLInputElement ? [active.selectionStart, active.selectionEnd] : null;
  el.innerHTML = html;
  if (focusedId) {
    const again = document.getElementById(focusedId);
    again?.focus();
    if (again instanceof HTMLInputElement && selection && again.type !== 'number')
      again.setSelectionRange(selection[0] ?? null, selection[1] ?? null);
  }
}

/// <reference lib="dom" />
/** The phones at the counter: one row per session, live; assign a waiting basket, or cancel. */
import type { SessionRow } from '../../common/ipc/view-models';
import { $, esc, setHtml } from '../dom';
import type { Panel, ViewContext } from '../view-context';

const ASSIGNABLE: readonly SessionRow['phase'][] = [
  'connecting',
  'card_check',
  'authorizing',
  'waiting_for_basket',
];
/** Phases in which the till waits on the phone, so the cashier may cancel (PhoneSession.cancelByCashier). */
const CANCELLABLE: readonly SessionRow['phase'][] = ['card_check', 'waiting_for_basket', 'awaiting_payment'];
/**
 * How long a finished phone's row stays in full (ms): then it folds into the one "earlier phones"
 * line at the end of the list, so live phones and the waiting baskets keep their place.
 */
export const FINISHED_SHOWN_MS = 5_000;

export class PhonesPanel implements Panel {
  /** When this screen first saw each phone hung up (its own clock: the host's may differ). */
  private readonly finishedAt = new Map<string, number>();
  private foldTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly ctx: ViewContext) {}

  bind(): void {
    $('sessions').addEventListener('submit', (e) => {
      e.preventDefault();
      const form = e.target as HTMLFormElement;
      const basketId = (form.elements.namedItem('basket') as HTMLSelectElement).value;
      const sessionId = form.dataset.session!;
      if (basketId)
        void this.ctx.call(
          () => this.ctx.api.invoke('basket:assign', { basketId, sessionId }),
          `Basket ${basketId} goes to this phone`,
          'scan-status',
        );
    });
    $('sessions').addEventListener('click', (e) => {
      const id = (e.target as HTMLElement).closest('button')?.dataset.cancelSession;
      if (id)
        void this.ctx.call(
          () => this.ctx.api.invoke('session:cancel', { sessionId: id }),
          `Phone ${id} cancelled: nothing was charged`,
          'scan-status',
        );
    });
  }

  render(): void {
    const s = this.ctx.state.till;
    if (!s) return;
    const waiting = s.baskets.filter((b) => b.status === 'open');
    const rows = [...s.sessions].sort(
      (a, b) => Number(a.closed) - Number(b.closed) || b.updatedAt - a.updatedAt,
    );
    const now = Date.now();
    for (const id of this.finishedAt.keys())
      if (!rows.some((r) => r.id === id && r.closed)) this.finishedAt.delete(id);
    for (const r of rows) if (r.closed && !this.finishedAt.has(r.id)) this.finishedAt.set(r.id, now);
    const folded = (r: SessionRow) => r.closed && now - this.finishedAt.get(r.id)! >= FINISHED_SHOWN_MS;
    const earlier = rows.filter(folded);
    const list = $('sessions');
    const open = list.querySelector<HTMLDetailsElement>('details.earlier')?.open ?? false;
    const live = rows.filter((r) => !folded(r));
    setHtml(
      list,
      (live.length === 0 && earlier.length > 0 ? '<li class="idle">No phone at the counter now</li>' : '') +
        live
          .map((r) => {
            const assign =
              !r.closed && !r.basketId && ASSIGNABLE.includes(r.phase) && waiting.length > 0
                ? `<form data-session="${esc(r.id)}"><label class="sr-only" for="assign-${esc(r.id)}">Basket for phone ${esc(r.id)}</label>
                 <select id="assign-${esc(r.id)}" name="basket">${waiting.map((b) => `<option value="${esc(b.id)}">${esc(b.id)} · ${esc(b.totalText)}</option>`).join('')}</select>
                 <button type="submit">Assign</button></form>`
                : '';
            const cancel =
              !r.closed && CANCELLABLE.includes(r.phase)
                ? `<button type="button" data-cancel-session="${esc(r.id)}" aria-label="Cancel phone ${esc(r.id)}">Cancel</button>`
                : '';
            return `<li class="session ${esc(r.phase)}${r.closed ? ' closed' : ''}" aria-label="Phone ${esc(r.id)}: ${esc(r.label)}">
            <div class="label">${esc(r.label)}</div>
            <div class="meta">phone ${esc(r.id)}${r.basketId ? ` · basket ${esc(r.basketId)}` : ''}${r.maskedPan ? ` · card ${esc(r.maskedPan)}` : ''}${r.closed ? ' · hung up' : ''}</div>${assign || cancel ? `<div class="session-actions">${assign}${cancel}</div>` : ''}</li>`;
          })
          .join('') +
        (earlier.length === 0
          ? ''
          : `<li class="earlier-phones"><details class="earlier"${open ? ' open' : ''}><summary>${earlier.length} earlier phone${earlier.length === 1 ? '' : 's'}</summary><ul>${earlier
              .map(
                (r) =>
                  `<li class="earlier-row">${esc(r.label)} <span class="sku">phone ${esc(r.id)}</span></li>`,
              )
              .join('')}</ul></details></li>`),
    );
    // Render again when the next finished row is due to fold.
    clearTimeout(this.foldTimer);
    const due = rows
      .filter((r) => r.closed && !folded(r))
      .map((r) => this.finishedAt.get(r.id)! + FINISHED_SHOWN_MS - now);
    if (due.length > 0) this.foldTimer = setTimeout(() => this.render(), Math.max(50, Math.min(...due)));
  }
}

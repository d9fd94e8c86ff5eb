/// <reference lib="dom" />
/** Baskets charged and not yet paid: waiting for a phone, or with one; Take back returns one. */
import { $, esc, setHtml } from '../dom';
import type { Panel, ViewContext } from '../view-context';

export class BasketsPanel implements Panel {
  constructor(private readonly ctx: ViewContext) {}

  bind(): void {
    $('baskets').addEventListener('click', (e) => {
      const id = (e.target as HTMLElement).closest('button')?.dataset.cancel;
      if (id)
        void this.ctx.call(
          () => this.ctx.api.invoke('basket:cancel', { basketId: id }),
          `Basket ${id} taken back: its items are in the sale again`,
          'scan-status',
        );
    });
  }

  render(): void {
    const s = this.ctx.state.till;
    if (!s) return;
    // Phones whose card is checked and for which no basket waits: the cashier's next charge is theirs.
    const waitingPhones = s.sessions.filter((r) => !r.closed && r.phase === 'waiting_for_basket').length;
    const phones = `${waitingPhones} phone${waitingPhones === 1 ? '' : 's'}`;
    $('phones-waiting').textContent = waitingPhones > 0 ? `· ${phones} waiting for a basket` : '';
    const open = s.baskets.some((b) => b.status === 'open');
    setHtml(
      $('baskets'),
      (waitingPhones > 0 && !open
        ? `<li class="phones-waiting">${phones} waiting for a basket: charge the sale (F9)</li>`
        : '') +
        s.baskets
          .map(
            (
              b,
            ) => `<li class="basket"><span class="id">${esc(b.id)}</span><span class="what"><strong>${esc(b.totalText)}</strong> · ${b.lines.reduce((n, l) => n + l.quantity, 0)} item(s)</span>
          <span class="state">${b.status === 'open' ? 'waiting' : b.heldBy === 'code' ? 'paying with a code' : `phone ${esc(b.sessionId ?? '')}`}</span>
          ${b.status === 'open' ? `<button type="button" data-cancel="${esc(b.id)}" aria-label="Take back basket ${esc(b.id)}">Take back</button>` : ''}</li>`,
          )
          .join(''),
    );
  }
}

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
          `Basket ${id} taken back`,
          'scan-status',
        );
    });
  }

  render(): void {
    const s = this.ctx.state.till;
    if (!s) return;
    setHtml(
      $('baskets'),
      s.baskets
        .map(
          (
            b,
          ) => `<li class="basket"><span class="id">${esc(b.id)}</span><span class="what"><strong>${esc(b.totalText)}</strong> · ${b.lines.reduce((n, l) => n + l.quantity, 0)} item(s)</span>
          <span class="state">${b.status === 'open' ? 'waiting' : `phone ${esc(b.sessionId ?? '')}`}</span>
          ${b.status === 'open' ? `<button type="button" data-cancel="${esc(b.id)}" aria-label="Take back basket ${esc(b.id)}">Take back</button>` : ''}</li>`,
        )
        .join(''),
    );
  }
}

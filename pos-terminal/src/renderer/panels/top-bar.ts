/// <reference lib="dom" />
/** The counter's name, the payment network's health and the alerts the cashier must see. */
import { $, esc, setHtml } from '../dom';
import type { Panel, ViewContext } from '../view-context';

export class TopBar implements Panel {
  constructor(private readonly ctx: ViewContext) {}

  bind(): void {
    $('alerts').addEventListener('click', (e) => {
      const key = (e.target as HTMLElement).closest('button')?.dataset.dismiss;
      if (key) {
        this.ctx.state.dismissed.add(key);
        this.render();
      }
    });
  }

  render(): void {
    const { till: s, connected, dismissed } = this.ctx.state;
    if (s) {
      document.title = `bluetill · ${s.counterName}`;
      $('counter').textContent = s.counterName;
      const pill = $('backend');
      pill.className = `pill pill-${s.backend.health}`;
      pill.textContent =
        s.backend.health === 'reachable'
          ? 'Payment network: connected'
          : s.backend.health === 'unreachable'
            ? 'Payment network: UNREACHABLE'
            : 'Payment network: checking…';
      pill.title = s.backend.message;
    }
    const alerts: string[] = [];
    if (!connected)
      alerts.push('<div class="alert alert-bad">Lost the connection to the till: reconnecting…</div>');
    const offline = s?.backend.offline;
    if (s?.backend.health === 'unreachable')
      alerts.push(
        `<div class="alert alert-bad">${esc(
          offline
            ? 'The payment network is not reachable: OFFLINE MODE — sales within the limits are approved offline, to be confirmed by the card company.'
            : s.backend.message,
        )}</div>`,
      );
    // The offline status line: what this till has approved offline and not yet forwarded, and
    // today's offline sales the card company did not honour (the merchant's loss).
    if (offline && (s?.backend.health === 'unreachable' || offline.open > 0 || offline.lossesToday > 0))
      alerts.push(
        `<div class="alert alert-warn" data-offline>${esc(
          `Offline: ${offline.open} sale${offline.open === 1 ? '' : 's'} to forward · exposure ${offline.exposureText} of ${offline.exposureLimitText}` +
            (offline.lossesToday > 0
              ? ` · ${offline.lossesToday} not honoured today (${offline.lossTextToday}, the merchant's loss)`
              : ''),
        )}</div>`,
      );
    for (const m of s?.mismatches ?? []) {
      const key = `m:${m.sessionId}:${m.at}`;
      if (!dismissed.has(key))
        alerts.push(
          `<div class="alert alert-bad">Basket ${esc(m.basketId)}: ${esc(m.message)} <button type="button" data-dismiss="${esc(key)}">Dismiss</button></div>`,
        );
    }
    for (const e of (s?.errors ?? []).filter(
      (x) => x.code === 'printer' || x.code === 'pdf' || x.code === 'offline_loss',
    )) {
      const key = `e:${e.code}:${e.at}`;
      if (!dismissed.has(key))
        alerts.push(
          `<div class="alert alert-warn">${esc(e.message)} <button type="button" data-dismiss="${esc(key)}">Dismiss</button></div>`,
        );
    }
    setHtml($('alerts'), alerts.join(''));
  }
}

/// <reference lib="dom" />
/** The counter's name, the payment network's health and the alerts the cashier must see. */
import type { BackendHealth } from '../../common/ipc/view-models';
import { $, esc, setHtml } from '../dom';
import type { Panel, ViewContext } from '../view-context';

/** The status pill's words for each state of the payment network. */
const PILL: Readonly<Record<BackendHealth, string>> = {
  reachable: 'Payment network: connected',
  unreachable: 'Payment network: UNREACHABLE',
  refused: 'Payment network: refused this till',
  unknown: 'Payment network: checking…',
};

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
      const nodes = s.backend.nodes;
      pill.textContent =
        s.backend.health === 'reachable' && nodes && nodes.total > 1 && nodes.up < nodes.total
          ? `Payment network: ${nodes.up} of ${nodes.total} nodes`
          : PILL[s.backend.health];
      pill.title = s.backend.message;
    }
    const alerts: string[] = [];
    if (!connected)
      alerts.push('<div class="alert alert-bad">Lost the connection to the till: reconnecting…</div>');
    const offline = s?.backend.offline;
    if (s?.backend.health === 'unreachable' || s?.backend.health === 'refused')
      alerts.push(
        `<div class="alert alert-bad">${esc(
          offline && s.backend.health === 'unreachable'
            ? offline.available
              ? 'The payment network is not reachable: OFFLINE MODE — sales within the limits are approved offline, to be confirmed by the card company.'
              : 'The payment network is not reachable, and offline mode has no valid limits from the card company: payments are declined.'
            : s.backend.message,
        )}</div>`,
      );
    // The offline status line: what this till has approved offline and not yet forwarded, and
    // today's offline sales the card company did not honour (the merchant's loss).
    if (offline && !offline.available && s?.backend.health !== 'unreachable')
      alerts.push(
        `<div class="alert alert-warn" data-offline-mode>${esc(
          'Offline mode is on but has no valid limits from the card company yet: no offline approvals.',
        )}</div>`,
      );
    if (offline && (s?.backend.health === 'unreachable' || offline.open > 0 || offline.lossesToday > 0))
      alerts.push(
        `<div class="alert alert-warn" data-offline>${esc(
          `Offline: ${offline.open} sale${offline.open === 1 ? '' : 's'} to forward · exposure ${offline.exposureText} of ${offline.exposureLimitText}` +
            (offline.lossesToday > 0
              ? ` · ${offline.lossesToday} not honoured today (${offline.lossTextToday}, the merchant's loss)`
              : '') +
            (offline.validUntilText ? ` · limits valid until ${offline.validUntilText}` : ''),
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
      (x) =>
        x.code === 'printer' ||
        x.code === 'pdf' ||
        x.code === 'offline_loss' ||
        x.code === 'offline_parameters',
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

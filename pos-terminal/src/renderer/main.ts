/// <reference lib="dom" />
/**
 * The cashier UI's entry: in Electron the preload has put the TillApi on `window.bluetill`; in a
 * browser it is built over the headless server's WebSocket.
 */
import type { TillApi } from '../common/ipc/till-api';
import { CashierView } from './cashier-view';
import { WsTillApi } from './ws-till-api';

declare global {
  interface Window {
    bluetill?: TillApi;
  }
}

async function main(): Promise<void> {
  let api: TillApi;
  let ws: WsTillApi | null = null;
  if (window.bluetill) api = window.bluetill;
  else api = ws = new WsTillApi(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api`);
  const view = new CashierView(api);
  ws?.onConnection((up) => view.setConnected(up));
  await view.start();
  document.body.dataset.ready = 'true';
  document.getElementById('scan')?.focus();
}

void main();

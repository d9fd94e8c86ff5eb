/// <reference lib="dom" />
/**
 * The cashier UI's entry: in Electron the preload has put the TillApi on `window.bluetill`; in a
 * browser it is built over the headless server's WebSocket. Either way a cashier signs in first
 * (the host refuses everything else until then).
 */
import type { TillApi } from '../common/ipc/till-api';
import { CashierView } from './cashier-view';
import { $ } from './dom';
import { SignInView } from './sign-in';
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
  const signIn = new SignInView(api);
  const view = new CashierView(api);
  let started = false;
  const enter = async (message = '') => {
    document.body.dataset.ready = 'false';
    await signIn.ask(message);
    if (!started) await view.start();
    else await view.reload();
    started = true;
    document.body.dataset.ready = 'true';
    document.getElementById('scan')?.focus();
  };
  ws?.onConnection((up) => view.setConnected(up));
  ws?.onSignedOut(() => void enter('Signed out: sign in again'));
  $('sign-out').addEventListener('click', () => {
    void api.invoke('auth:sign-out', {}).finally(() => void enter());
  });
  await enter();
}

void main();

/// <reference lib="dom" />
/**
 * The sign-in screen: cashier id and PIN/password, checked by the host (never kept in the page).
 * While signed out, only this form shows (`body[data-auth="out"]`).
 */
import type { CashierSessionView } from '../common/ipc/channels';
import type { TillApi } from '../common/ipc/till-api';
import { $ } from './dom';

export class SignInView {
  private waiting: ((s: CashierSessionView) => void) | null = null;

  constructor(private readonly api: TillApi) {
    $('sign-in-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submit();
    });
  }

  /** Shows the form until a cashier signs in. */
  ask(message = ''): Promise<CashierSessionView> {
    document.body.dataset.auth = 'out';
    $('sign-in').hidden = false;
    this.status(message, message !== '');
    $<HTMLInputElement>('sign-in-secret').value = '';
    $('sign-in-id').focus();
    return new Promise((resolve) => (this.waiting = resolve));
  }

  private async submit(): Promise<void> {
    const id = $<HTMLInputElement>('sign-in-id');
    const secret = $<HTMLInputElement>('sign-in-secret');
    try {
      const s = await this.api.invoke('auth:sign-in', { cashierId: id.value.trim(), secret: secret.value });
      secret.value = '';
      $('sign-in').hidden = true;
      document.body.dataset.auth = 'in';
      $('cashier-name').textContent = `${s.name} (${s.role})`;
      this.status('');
      this.waiting?.(s);
      this.waiting = null;
    } catch (error) {
      secret.value = '';
      this.status((error as Error).message, true);
      secret.focus();
    }
  }

  private status(text: string, bad = false): void {
    const el = $('sign-in-status');
    el.textContent = text;
    el.classList.toggle('bad', bad);
  }
}

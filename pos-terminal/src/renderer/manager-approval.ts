/// <reference lib="dom" />
/**
 * A manager's approval for one action (a refund or void above the limit, the day's close): the
 * host answers `approval_required`; the till asks for a manager's id and PIN in a modal dialog and
 * sends them with that one request. Nothing is kept after it.
 */
import type { Approval } from '../common/ipc/channels';
import { $ } from './dom';

const codeOf = (e: unknown): string | undefined => (e as { code?: string } | null)?.code;

export class ManagerApproval {
  /**
   * Runs `f` without an approval; if the host asks for one, asks for a manager until `f` passes
   * with it or the cashier cancels (then resolves undefined).
   */
  async run<T>(what: string, f: (approval?: Approval) => Promise<T>): Promise<T | undefined> {
    try {
      return await f();
    } catch (error) {
      if (codeOf(error) !== 'approval_required') throw error;
      let message = (error as Error).message;
      for (;;) {
        const approval = await this.ask(what, message);
        if (!approval) return undefined;
        try {
          const r = await f(approval);
          this.close();
          return r;
        } catch (again) {
          if (codeOf(again) !== 'approval_required' && codeOf(again) !== 'rate_limited') {
            this.close();
            throw again;
          }
          message = (again as Error).message;
        }
      }
    }
  }

  private ask(what: string, message: string): Promise<Approval | null> {
    const dialog = $<HTMLDialogElement>('approval');
    $('approval-what').textContent = what;
    $('approval-status').textContent = message;
    $<HTMLInputElement>('approval-secret').value = '';
    if (!dialog.open) dialog.showModal();
    $('approval-id').focus();
    return new Promise((resolve) => {
      const form = $<HTMLFormElement>('approval-form');
      const done = (v: Approval | null) => {
        form.removeEventListener('submit', onSubmit);
        $('approval-cancel').removeEventListener('click', onCancel);
        dialog.removeEventListener('cancel', onCancel);
        resolve(v);
      };
      const onSubmit = (e: Event) => {
        e.preventDefault();
        const secret = $<HTMLInputElement>('approval-secret');
        const v = { managerId: $<HTMLInputElement>('approval-id').value.trim(), secret: secret.value };
        secret.value = '';
        done(v);
      };
      const onCancel = (e: Event) => {
        e.preventDefault();
        this.close();
        done(null);
      };
      form.addEventListener('submit', onSubmit);
      $('approval-cancel').addEventListener('click', onCancel);
      dialog.addEventListener('cancel', onCancel);
    });
  }

  private close(): void {
    const dialog = $<HTMLDialogElement>('approval');
    $<HTMLInputElement>('approval-secret').value = '';
    if (dialog.open) dialog.close();
  }
}

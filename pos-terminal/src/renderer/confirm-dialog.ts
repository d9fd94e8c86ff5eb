/**
 * "Are you sure?" before what cannot be taken back at the till (a void, a refund, closing the day):
 * a modal dialog naming the action; true once the cashier confirms, false on Cancel or Escape.
 */
import { $ } from './dom';

export function confirmAction(what: string, okLabel: string): Promise<boolean> {
  const dialog = $<HTMLDialogElement>('confirm');
  $('confirm-what').textContent = what;
  $('confirm-ok').textContent = okLabel;
  if (!dialog.open) dialog.showModal();
  $('confirm-cancel').focus();
  return new Promise((resolve) => {
    const done = (v: boolean) => (e: Event) => {
      e.preventDefault();
      $('confirm-ok').removeEventListener('click', ok);
      $('confirm-cancel').removeEventListener('click', no);
      dialog.removeEventListener('cancel', no);
      if (dialog.open) dialog.close();
      resolve(v);
    };
    const ok = done(true);
    const no = done(false);
    $('confirm-ok').addEventListener('click', ok);
    $('confirm-cancel').addEventListener('click', no);
    dialog.addEventListener('cancel', no);
  });
}

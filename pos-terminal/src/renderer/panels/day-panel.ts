/// <reference lib="dom" />
/** End of day: close the batch at the payment network and show its totals. */
import type { BatchView } from '../../common/ipc/view-models';
import { confirmAction } from '../confirm-dialog';
import { $ } from '../dom';
import type { Panel, ViewContext } from '../view-context';

export class DayPanel implements Panel {
  private batch: BatchView | null = null;

  constructor(private readonly ctx: ViewContext) {}

  bind(): void {
    $('close-day').addEventListener('click', () => void this.closeDay());
  }

  render(): void {
    const b = this.batch;
    if (!b) return;
    $('batch-sale-count').textContent = String(b.saleCount);
    $('batch-sales').textContent = b.saleText;
    $('batch-refund-count').textContent = String(b.refundCount);
    $('batch-refunds').textContent = b.refundText;
    $('batch-void-count').textContent = String(b.voidCount);
    $('batch-voids').textContent = b.voidText;
    $('batch-net').textContent = b.netText;
    $('batch').hidden = false;
  }

  private async closeDay(): Promise<void> {
    if (
      !(await confirmAction(
        'Close the day? The batch is closed at the payment network; new sales start the next one.',
        'Close the day',
      ))
    )
      return;
    const b = await this.ctx.call(
      () =>
        this.ctx.approval.run('Close the day', (approval) =>
          this.ctx.api.invoke('batch:close', approval ? { approval } : {}),
        ),
      undefined,
      'day-status',
    );
    if (!b) return;
    this.batch = b;
    this.render();
    this.ctx.status('day-status', `Batch ${b.batchId} closed at ${b.closedAtText}`);
  }
}

/**
 * The virtual radio as a process of its own (the "air" and every device's controller), driven
 * over IPC by RadioProcess. Hosts in other processes open the pseudo-terminals it creates. Like
 * real controllers, it keeps links alive whatever the hosts are doing.
 */
import { VirtualRadio, type VirtualRadioOptions, type DeviceOptions } from './virtual-radio';
import type { LinkShaping } from './shaping';

type Request =
  | { id: number; op: 'addDevice'; options: DeviceOptions }
  | { id: number; op: 'removeDevice'; name: string }
  | { id: number; op: 'setLinkShaping'; a: string; b?: string; shaping: LinkShaping }
  | { id: number; op: 'stats' }
  | { id: number; op: 'close' };

const options = JSON.parse(process.env.BLUETILL_RADIO_OPTIONS ?? '{}') as VirtualRadioOptions;
const radio = await VirtualRadio.start(options);

const reply = (id: number, result: unknown, error?: unknown) =>
  process.send?.(
    error === undefined
      ? { id, ok: true, result }
      : {
          id,
          ok: false,
          error: { message: (error as Error).message, code: (error as { code?: string }).code },
        },
  );

process.on('message', (req: Request) => {
  try {
    switch (req.op) {
      case 'addDevice': {
        const d = radio.addDevice(req.options);
        return reply(req.id, { name: d.name, ttyPath: d.ttyPath, address: d.address });
      }
      case 'removeDevice':
        radio.removeDevice(req.name);
        return reply(req.id, null);
      case 'setLinkShaping':
        radio.setLinkShaping(req.a, req.b, req.shaping);
        return reply(req.id, null);
      case 'stats':
        return reply(req.id, radio.stats());
      case 'close':
        return void radio.close().then(() => {
          reply(req.id, null);
          process.exit(0);
        });
    }
  } catch (error) {
    reply(req.id, null, error);
  }
});
// The parent went away: nothing left to relay for.
process.on('disconnect', () => void radio.close().then(() => process.exit(0)));
process.send?.({ ready: true });

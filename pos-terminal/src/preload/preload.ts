/**
 * The only bridge between the sandboxed cashier page and the till: one object, `window.bluetill`,
 * that `satisfies` the TillApi. Only the contract's channels pass; payloads are validated again
 * by the host.                                                                          [SIG]
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import {
  isEventChannel,
  isRequestChannel,
  type ApiErrorBody,
  type EventChannel,
  type Events,
  type RequestChannel,
  type RequestOf,
  type ResponseOf,
} from '../common/ipc/channels';
import type { TillApi } from '../common/ipc/till-api';

type Reply = { ok: true; result: unknown } | { ok: false; error: ApiErrorBody };

export const bluetill = {
  async invoke<C extends RequestChannel>(channel: C, payload: RequestOf<C>): Promise<ResponseOf<C>> {
    if (!isRequestChannel(channel)) throw new Error(`no channel "${String(channel)}"`);
    const reply = (await ipcRenderer.invoke(channel, payload)) as Reply;
    if (!reply.ok) throw Object.assign(new Error(reply.error.message), { code: reply.error.code });
    return reply.result as ResponseOf<C>;
  },
  on<E extends EventChannel>(channel: E, listener: (payload: Events[E]) => void): () => void {
    if (!isEventChannel(channel)) throw new Error(`no event "${String(channel)}"`);
    const wrapped = (_e: IpcRendererEvent, payload: Events[E]) => listener(payload);
    ipcRenderer.on(channel, wrapped);
    return () => void ipcRenderer.removeListener(channel, wrapped);
  },
} satisfies TillApi;

contextBridge.exposeInMainWorld('bluetill', bluetill);

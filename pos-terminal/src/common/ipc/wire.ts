/**
 * The WebSocket framing of the TillApi: one JSON object per message.
 *   client → host  { id, channel, payload }                       a request
 *   host → client  { id, ok: true, result } | { id, ok: false, error: { code, message } }
 *   host → client  { event, payload }                             a pushed event
 */
import type { ApiErrorBody, EventChannel, Events } from './channels';

export const MAX_WS_MESSAGE_BYTES = 16 * 1024;

export type WireReply =
  { id: number | null; ok: true; result: unknown } | { id: number | null; ok: false; error: ApiErrorBody };
export type WirePush = { [E in EventChannel]: { event: E; payload: Events[E] } }[EventChannel];

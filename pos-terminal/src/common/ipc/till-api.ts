import type { ApiErrorCode, EventChannel, Events, RequestChannel, RequestOf, ResponseOf } from './channels';

/**
 * The one API the cashier UI uses. The Electron preload exposes it as `window.bluetill`
 * (`satisfies TillApi`); in a browser the renderer builds it over the server's WebSocket.
 *
 * @example
 *   const draft = await api.invoke('draft:add', { sku: 'tea-green' });
 *   const off = api.on('session:changed', (row) => render(row));
 */
export interface TillApi {
  invoke<C extends RequestChannel>(channel: C, payload: RequestOf<C>): Promise<ResponseOf<C>>;
  on<E extends EventChannel>(channel: E, listener: (payload: Events[E]) => void): () => void;
}

/** What a host throws to the UI; carried across IPC/WebSocket as `{ code, message }`. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

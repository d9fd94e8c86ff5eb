/**
 * Who is calling, as the transport proved it. Under mutual TLS (the default) every call has a
 * terminal caller, taken from the client certificate; `unauthenticated` exists only when the
 * server was started without TLS on purpose (local debugging).
 */
import { RequestError } from './request-error';

export type Caller =
  | { readonly kind: 'terminal'; readonly terminalId: string }
  | { readonly kind: 'unauthenticated' }
  /** The admin tool, on the database directly (never over the network). */
  | { readonly kind: 'admin' }
  /** A phone on the shopper-facing listener (server-authenticated TLS): no identity beyond its address. */
  | { readonly kind: 'shopper'; readonly peer: string };

/** A terminal may act only for itself: the terminal id in the request must be the certificate's. */
export function checkCaller(terminalId: string, caller: Caller): void {
  if (caller.kind === 'shopper')
    throw new RequestError('permission_denied', 'a phone may not act for a terminal');
  if (caller.kind === 'terminal' && caller.terminalId !== terminalId)
    throw new RequestError('permission_denied', 'terminal id differs from the caller certificate');
}

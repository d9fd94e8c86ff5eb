/**
 * ShopperBackend over grpc-js: server-authenticated TLS (the backend CA from the trust file; the
 * phone has no client certificate), a deadline on every call; Challenge and PayMerchant retried
 * on UNAVAILABLE / DEADLINE_EXCEEDED (PayMerchant is idempotent on its key), IssueCode,
 * GetOutcome and GetOfflineReceipt never (each attempt uses up its UN). A decline arrives OK with the response message in
 * the body; one carried as FAILED_PRECONDITION with the response in the `bluetill-decline-bin`
 * trailer (an older peer) is handed up as that response value, and one without a decodable
 * trailer is a ShopperBackendError('rejected'), never an approval.
 *
 * A backend named by an IP address gets no TLS server name of the address (RFC 6066 allows only
 * host names there, and Node warns, DEP0123): grpc-js always sends one, so it sends a placeholder
 * name instead, and the server certificate is checked against the IP address dialled.
 */
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { credentials, status, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';
import {
  DeclineTrailerError,
  IssueCodeResponse,
  type OfflineReceiptResponse,
  OutcomeResponse,
  PayMerchantResponse,
  ShopperClient,
  callDeclinable,
  type DeclinableResponse,
  type IssueCodeRequest,
  type OfflineReceiptRequest,
  type OutcomeRequest,
  type PayMerchantRequest,
  type ShopperChallengeResponse,
} from '@bluetill/protocol';
import { ShopperBackendError, type ShopperBackend } from '../ports/shopper-backend';

export interface GrpcShopperBackendOptions {
  /** host:port of the shopper-facing listener. */
  readonly address: string;
  /** The backend CA certificate (PEM) its server certificate must chain to. */
  readonly backendCa: Buffer;
  readonly deadlineMs?: number;
  readonly attempts?: number;
  readonly backoffMs?: number;
}

const RETRYABLE = new Set([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);

/** The TLS server name sent to a backend named by an IP address: a reserved name (RFC 2606) that names nothing. */
export const IP_BACKEND_SERVER_NAME = 'backend.bluetill.invalid';

/** The host of `host:port` or `[v6]:port`, without brackets. */
const hostOf = (address: string): string => address.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');

/** grpc-js checks the certificate against the override name; this checks it against the address dialled instead. */
export const identityCheckFor =
  (host: string) =>
  (_name: string, cert: PeerCertificate): Error | undefined =>
    checkServerIdentity(host, cert);

/** Channel credentials and options for the backend at `address`, trusting `ca` (see the file comment for IP addresses). */
export function shopperChannel(
  address: string,
  ca: Buffer,
): { creds: ReturnType<typeof credentials.createSsl>; options: ChannelOptions } {
  const options: ChannelOptions = {
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 2_000,
  };
  const host = hostOf(address);
  if (isIP(host) === 0) return { creds: credentials.createSsl(ca), options };
  const creds = credentials.createSsl(ca, null, null, { checkServerIdentity: identityCheckFor(host) });
  return { creds, options: { ...options, 'grpc.ssl_target_name_override': IP_BACKEND_SERVER_NAME } };
}

export class GrpcShopperBackend implements ShopperBackend {
  private readonly client: ShopperClient;

  constructor(private readonly o: GrpcShopperBackendOptions) {
    const { creds, options } = shopperChannel(o.address, o.backendCa);
    this.client = new ShopperClient(o.address, creds, options);
  }

  challenge(): Promise<ShopperChallengeResponse> {
    return this.retrying('Challenge', () => this.unary('challenge', {}));
  }

  issueCode(req: IssueCodeRequest): Promise<IssueCodeResponse> {
    return this.unary('issueCode', req, IssueCodeResponse.decode).catch((e: unknown) =>
      Promise.reject(this.translate('IssueCode', e)),
    );
  }

  getOutcome(req: OutcomeRequest): Promise<OutcomeResponse> {
    return this.unary('getOutcome', req, OutcomeResponse.decode).catch((e: unknown) =>
      Promise.reject(this.translate('GetOutcome', e)),
    );
  }

  getOfflineReceipt(req: OfflineReceiptRequest): Promise<OfflineReceiptResponse> {
    return this.unary<OfflineReceiptResponse>('getOfflineReceipt', req).catch((e: unknown) =>
      Promise.reject(this.translate('GetOfflineReceipt', e)),
    );
  }

  payMerchant(req: PayMerchantRequest): Promise<PayMerchantResponse> {
    return this.retrying('PayMerchant', () => this.unary('payMerchant', req, PayMerchantResponse.decode));
  }

  close(): void {
    this.client.close();
  }

  /** One call; `declined` (the response message's decoder) turns a decline status back into its response value. */
  private unary<Res>(
    method: 'challenge' | 'issueCode' | 'payMerchant' | 'getOutcome' | 'getOfflineReceipt',
    req: unknown,
    declined?: Res extends DeclinableResponse ? (bytes: Uint8Array) => Res : never,
  ): Promise<Res> {
    const fn = (
      this.client as unknown as Record<
        string,
        (r: unknown, o: { deadline: number }, cb: (e: ServiceError | null, r: Res) => void) => void
      >
    )[method]!;
    return callDeclinable<Res>(
      (cb) => fn.call(this.client, req, { deadline: Date.now() + (this.o.deadlineMs ?? 10_000) }, cb),
      declined,
    );
  }

  private async retrying<Res>(what: string, call: () => Promise<Res>): Promise<Res> {
    let last: unknown;
    const attempts = this.o.attempts ?? 3;
    for (let i = 0; i < attempts; i++) {
      try {
        return await call();
      } catch (e) {
        last = e;
        if (!RETRYABLE.has((e as ServiceError).code)) break;
        if (i + 1 < attempts) await new Promise((r) => setTimeout(r, (this.o.backoffMs ?? 300) * 2 ** i));
      }
    }
    throw this.translate(what, last);
  }

  private translate(what: string, e: unknown): ShopperBackendError {
    if (e instanceof DeclineTrailerError)
      return new ShopperBackendError(
        'rejected',
        `${what}: a decline the phone cannot read (${e.code}): ${e.message}`,
        { cause: e },
      );
    const err = e as ServiceError;
    // The tills' listener asks for a client certificate (TLS 1.3 alert 116, "certificate required"): the phone has none to give.
    if (
      err?.code === status.UNAVAILABLE &&
      /certificate required|alert number 116\b/i.test(err.details ?? '')
    ) {
      return new ShopperBackendError(
        'not_shopper_listener',
        `${what}: this address is the card company's listener for tills, not for phones`,
        { cause: e },
      );
    }
    // A server certificate that does not chain to the backend CA fails the handshake: UNAVAILABLE with a certificate message.
    if (
      err?.code === status.UNAVAILABLE &&
      /certificate|self[- ]signed|SSL|handshake/i.test(err.details ?? '')
    ) {
      return new ShopperBackendError(
        'untrusted',
        `${what}: the server could not prove it is the payment network`,
        { cause: e },
      );
    }
    if (err?.code === status.UNAVAILABLE)
      return new ShopperBackendError('unavailable', `${what}: payment network unavailable`, { cause: e });
    if (err?.code === status.DEADLINE_EXCEEDED)
      return new ShopperBackendError('deadline', `${what}: no answer in time`, { cause: e });
    return new ShopperBackendError('rejected', `${what}: ${err?.details ?? 'failed'}`, { cause: e });
  }
}

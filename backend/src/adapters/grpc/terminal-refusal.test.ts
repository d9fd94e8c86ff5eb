import type { ServerUnaryCall } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import {
  REFUSAL_TRAILER_KEY,
  TerminalRefusals,
  TerminalRefusedError,
  refusalStatus,
} from './terminal-refusal';
import { RequestError } from '../../app/request-error';

const call = (fingerprint: string, path = '/bluetill.v1.Authorization/Challenge') =>
  ({
    getPath: () => path,
    getAuthContext: () => ({ sslPeerCertificate: { fingerprint256: fingerprint, serialNumber: '0A1B' } }),
  }) as unknown as ServerUnaryCall<unknown, unknown>;

describe('refusals of a till', () => {
  it('logged once per certificate and reason per interval, then with how many were not logged', async () => {
    const lines: Array<Record<string, unknown>> = [];
    let now = 0;
    const refusals = new TerminalRefusals({
      log: { warn: (fields: object) => void lines.push(fields as Record<string, unknown>) } as never,
      everyMs: 1_000,
      now: () => now,
      tlsSocketOf: () => undefined,
    });
    const refuse = refusals.watching(() => {
      throw new TerminalRefusedError('certificate_revoked', 'client certificate revoked', 'T-0009');
    });
    for (let i = 0; i < 5; i++) await expect(refuse(call('AA:BB'))).rejects.toThrow(TerminalRefusedError);
    expect(lines).toEqual([
      {
        event: 'terminal_refused',
        reason: 'certificate_revoked',
        method: 'Authorization.Challenge',
        terminalId: 'T-0009',
        fingerprint: 'AA:BB',
        serial: '0A1B',
      },
    ]);
    await expect(refuse(call('CC:DD'))).rejects.toThrow(); // another certificate: its own line
    expect(lines).toHaveLength(2);
    now = 1_000;
    await expect(refuse(call('AA:BB'))).rejects.toThrow();
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatchObject({ fingerprint: 'AA:BB', notLoggedSince: 4 });
  });

  it('other errors pass unlogged; the status is PERMISSION_DENIED with the reason in the trailer', async () => {
    const lines: unknown[] = [];
    const refusals = new TerminalRefusals({
      log: { warn: (f: object) => void lines.push(f) } as never,
      tlsSocketOf: () => undefined,
    });
    const other = refusals.watching(() => {
      throw new RequestError('invalid_argument', 'x');
    });
    await expect(other(call('AA'))).rejects.toThrow(RequestError);
    expect(lines).toHaveLength(0);
    const s = refusalStatus(
      new TerminalRefusedError('certificate_unknown', 'client certificate unknown to the registry'),
    );
    expect(s.code).toBe(status.PERMISSION_DENIED);
    expect(s.metadata!.get(REFUSAL_TRAILER_KEY)).toEqual(['certificate_unknown']);
  });
});

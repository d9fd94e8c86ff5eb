import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { IP_BACKEND_SERVER_NAME, identityCheckFor, shopperChannel } from './shopper-backend.grpc';

const cert = (san: string) =>
  ({ subject: { CN: 'bluetill backend' }, subjectaltname: san }) as unknown as PeerCertificate;
const CA = Buffer.from('-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');

describe('the shopper backend channel', () => {
  it('a backend named by an IP address: a placeholder server name (no IP in SNI), a host name: none set', () => {
    expect(shopperChannel('127.0.0.1:7001', CA).options['grpc.ssl_target_name_override']).toBe(
      IP_BACKEND_SERVER_NAME,
    );
    expect(shopperChannel('[::1]:7001', CA).options['grpc.ssl_target_name_override']).toBe(
      IP_BACKEND_SERVER_NAME,
    );
    expect(shopperChannel('localhost:7001', CA).options['grpc.ssl_target_name_override']).toBeUndefined();
  });

  it('the certificate is still checked against the IP address dialled, not the placeholder', () => {
    const check = identityCheckFor('127.0.0.1');
    expect(check(IP_BACKEND_SERVER_NAME, cert('IP Address:127.0.0.1, DNS:localhost'))).toBeUndefined();
    expect(check(IP_BACKEND_SERVER_NAME, cert('IP Address:10.0.0.9, DNS:localhost'))).toBeInstanceOf(Error);
    expect(check(IP_BACKEND_SERVER_NAME, cert(`DNS:${IP_BACKEND_SERVER_NAME}`))).toBeInstanceOf(Error);
  });
});

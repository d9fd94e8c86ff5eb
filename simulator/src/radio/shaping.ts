/**
 * Radio shaping: how a link or a device's links behave. Every field is optional; the effective
 * shaping of a link is defaults <- central device <- peripheral device <- the pair's override.
 */
import { RadioError } from './radio-error';

export interface LinkShaping {
  /** Connection interval, 7.5 ms to 4 s, rounded to 1.25 ms. Default 30 ms (what phones pick). */
  readonly connectionIntervalMs?: number;
  /** Extra one-way delay added to every delivered ACL packet, ms. Default 0. */
  readonly latencyMs?: number;
  /** Probability (0..1) that a connection event is lost. 1 = link blacked out. Default 0. */
  readonly lossRate?: number;
  /** Supervision timeout, ms; default: the host's request, at least 3 intervals. */
  readonly supervisionTimeoutMs?: number;
  /** LL data PDUs per direction per connection event. Default 6. */
  readonly packetsPerEvent?: number;
  /** LL payload size used to split host ACL fragments. Default 27 (no data length extension). */
  readonly llPayloadBytes?: number;
  /** Distance between the two ends, metres; default: sum of the devices' distances. */
  readonly distanceM?: number;
  /**
   * Probability (0..1) that a connection does not get going: both hosts get LE Connection
   * Complete, then no connection event succeeds and after 6 intervals both get Disconnection
   * Complete 0x3E "Connection Failed to be Established" (Vol 6, Part B, 4.5.2; Android's GATT 62).
   * Real controllers do this under load or interference. Default 0.
   */
  readonly connectFailRate?: number;
  /** Advertising reports and Read RSSI carry 127, "RSSI not available" (Vol 4, Part E, 7.7.65.2). Default false. */
  readonly rssiUnavailable?: boolean;
}

/**
 * What one device's controller offers its host, fixed for the device's life (not per link).
 * Defaults are a generous controller; real ones are often smaller.
 */
export interface ControllerProfile {
  /** LE ACL data packet length (LE Read Buffer Size): 27..251, default 251. The host fragments to it. */
  readonly aclBufferLength?: number;
  /** LE ACL buffers, shared by all the device's links: 1..255, default 8. */
  readonly aclBuffers?: number;
  /** This controller's first connection handle (each controller numbers its own links): 1..0x0EFF. */
  readonly firstHandle?: number;
}

export interface ResolvedShaping {
  readonly connectionIntervalMs: number;
  readonly latencyMs: number;
  readonly lossRate: number;
  readonly supervisionTimeoutMs: number | undefined;
  readonly packetsPerEvent: number;
  readonly llPayloadBytes: number;
  readonly distanceM: number | undefined;
  readonly connectFailRate: number;
  readonly rssiUnavailable: boolean;
}

/** RSSI "not available" in HCI events (Vol 4, Part E, 7.7.65.2). */
export const RSSI_NOT_AVAILABLE = 127;

export const DEFAULT_SHAPING: ResolvedShaping = {
  connectionIntervalMs: 30,
  latencyMs: 0,
  lossRate: 0,
  supervisionTimeoutMs: undefined,
  packetsPerEvent: 6,
  llPayloadBytes: 27,
  distanceM: undefined,
  connectFailRate: 0,
  rssiUnavailable: false,
};

/** Checks ranges; throws RadioError('bad_shaping') with the field name. */
export const validateShaping = (s: LinkShaping): void => {
  const bad = (field: string, why: string): never => {
    throw new RadioError('bad_shaping', `${field}: ${why}`);
  };
  if (
    s.connectionIntervalMs !== undefined &&
    !(s.connectionIntervalMs >= 7.5 && s.connectionIntervalMs <= 4000)
  )
    bad('connectionIntervalMs', 'must be 7.5..4000');
  if (s.latencyMs !== undefined && !(s.latencyMs >= 0)) bad('latencyMs', 'must be >= 0');
  if (s.lossRate !== undefined && !(s.lossRate >= 0 && s.lossRate <= 1)) bad('lossRate', 'must be 0..1');
  if (
    s.supervisionTimeoutMs !== undefined &&
    !(s.supervisionTimeoutMs >= 100 && s.supervisionTimeoutMs <= 32000)
  )
    bad('supervisionTimeoutMs', 'must be 100..32000');
  if (s.packetsPerEvent !== undefined && !(Number.isInteger(s.packetsPerEvent) && s.packetsPerEvent >= 1))
    bad('packetsPerEvent', 'must be an integer >= 1');
  if (
    s.llPayloadBytes !== undefined &&
    !(Number.isInteger(s.llPayloadBytes) && s.llPayloadBytes >= 27 && s.llPayloadBytes <= 251)
  )
    bad('llPayloadBytes', 'must be 27..251');
  if (s.distanceM !== undefined && !(s.distanceM >= 0)) bad('distanceM', 'must be >= 0');
  if (s.connectFailRate !== undefined && !(s.connectFailRate >= 0 && s.connectFailRate <= 1))
    bad('connectFailRate', 'must be 0..1');
  if (s.rssiUnavailable !== undefined && typeof s.rssiUnavailable !== 'boolean')
    bad('rssiUnavailable', 'must be true or false');
};

/** Checks a controller profile's ranges; throws RadioError('bad_shaping') with the field name. */
export const validateControllerProfile = (p: ControllerProfile): void => {
  const bad = (field: string, why: string): never => {
    throw new RadioError('bad_shaping', `${field}: ${why}`);
  };
  const int = (v: number | undefined, min: number, max: number): boolean =>
    v === undefined || (Number.isInteger(v) && v >= min && v <= max);
  if (!int(p.aclBufferLength, 27, 251)) bad('aclBufferLength', 'must be 27..251');
  if (!int(p.aclBuffers, 1, 255)) bad('aclBuffers', 'must be 1..255');
  if (!int(p.firstHandle, 1, 0x0eff)) bad('firstHandle', 'must be 1..0x0EFF');
};

export const mergeShaping = (...layers: ReadonlyArray<LinkShaping | undefined>): ResolvedShaping => {
  const out: Record<string, unknown> = { ...DEFAULT_SHAPING };
  for (const layer of layers) {
    if (!layer) continue;
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) out[k] = v;
  }
  return out as unknown as ResolvedShaping;
};

/** Interval in the HCI unit of 1.25 ms (Vol 4, Part E, 7.7.65.1), clamped to 6..3200. */
export const intervalUnits = (ms: number): number => Math.min(3200, Math.max(6, Math.round(ms / 1.25)));

/**
 * RSSI by log-distance path loss: -59 dBm at 1 m (a typical phone/till pair), exponent 2,
 * clamped to the HCI range -127..20 dBm.
 */
export const rssiAtDistance = (distanceM: number, rssiAt1m = -59, exponent = 2): number => {
  const d = Math.max(distanceM, 0.1);
  const rssi = Math.round(rssiAt1m - 10 * exponent * Math.log10(d));
  return Math.max(-127, Math.min(20, rssi));
};

export {
  VirtualRadio,
  VirtualDevice,
  type VirtualRadioOptions,
  type DeviceOptions,
  type LinkInfo,
} from './virtual-radio';
export { type LinkShaping, rssiAtDistance } from './shaping';
export { RadioError, type RadioErrorCode } from './radio-error';
export { spawnHost, repoRoot, type SpawnHostOptions } from './host-process';
export { type TraceOptions } from './trace';

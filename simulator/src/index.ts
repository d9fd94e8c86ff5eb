export { InMemoryRadio, type InMemoryRadioOptions } from './link/in-memory-radio';
export { phoneCardFrom, phoneCardFromFile, type PhoneCard } from './card/phone-card';
export {
  TimedCard,
  cardTimingProfile,
  commandTimeMs,
  isCardProfileName,
  cardProfileFromEnv,
  CARD_PROFILES,
  type CardProfileName,
  type CardTimingProfile,
  type CardTransport,
} from './card/card-timing';
export { EmvCard } from './card/emv-card';
export { personalizeCard, issueSimulatedCard } from './card/issue-card';
export { AutoPrompt, HUMAN_SHOPPER, type AutoPromptOptions, type ShopperDelays } from './phone/auto-prompt';
export { startWorld, type World, type WorldOptions } from './world';
export {
  runPhone,
  stepDurations,
  type PhoneRun,
  type PhoneRunOptions,
  type PhoneSteps,
  type StepDurations,
} from './phone/phone-run';
export { runFleet, runArrivals, type FleetOptions, type FleetPhonePlan } from './fleet/run-fleet';
export {
  summarize,
  stepSummary,
  type FleetSummary,
  type FleetPhoneResult,
  type StepSummary,
} from './fleet/fleet-summary';
export { poissonArrivals, type ArrivalPlan } from './fleet/arrivals';
export { PhoneHost, type PhoneDeviceSource, type PhoneDevice } from './phone/phone-host';
export { VirtualBle, type VirtualBleOptions } from './link/virtual-ble';
export { VirtualRadio } from './radio/virtual-radio';
export { dropAfterMessages, dropAfterValues } from './phone/flaky-link';
export {
  SimulatedFingerprintSensor,
  type SimulatedFingerprintSensorOptions,
} from './phone/simulated-fingerprint-sensor';
export { seededRandom } from '@bluetill/protocol';
export { TillApiClient } from './playground/till-api-client';
export {
  controlFile,
  keysFile,
  playgroundDir,
  readControl,
  type PlaygroundControl,
} from './playground/playground-files';

export { InMemoryRadio, type InMemoryRadioOptions } from './link/in-memory-radio';
export { phoneCardFrom, phoneCardFromFile, type PhoneCard } from './card/phone-card';
export { EmvCard } from './card/emv-card';
export { personalizeCard, issueSimulatedCard } from './card/issue-card';
export { AutoPrompt, type AutoPromptOptions } from './phone/auto-prompt';
export { startWorld, type World, type WorldOptions, type PhoneRun } from './world';
export { VirtualBle, type VirtualBleOptions } from './link/virtual-ble';
export { VirtualRadio } from './radio/virtual-radio';
export { dropAfterMessages } from './phone/flaky-link';

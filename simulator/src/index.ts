export { InMemoryRadio, type InMemoryRadioOptions } from './link/in-memory-radio';
export { DemoCard, type DemoCardData } from './phone/demo-card';
export { AutoPrompt, type AutoPromptOptions } from './phone/auto-prompt';
export { startWorld, type World, type WorldOptions, type PhoneRun } from './world';

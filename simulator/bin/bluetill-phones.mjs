#!/usr/bin/env node
// Simulated phones paying at the running playground's till (`make till`) over its virtual radio.
import { register } from 'tsx/esm/api';
register();
await import('../src/playground/phones.ts');

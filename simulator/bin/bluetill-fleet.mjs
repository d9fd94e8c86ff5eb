#!/usr/bin/env node
// N simulated phones with their own virtual cards paying at one till over the virtual radio.
import { register } from 'tsx/esm/api';
register();
await import('../src/fleet/main.ts');

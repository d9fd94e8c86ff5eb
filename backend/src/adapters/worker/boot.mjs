// Worker bootstrap: registers tsx's loader in the worker thread (no build step), then loads the
// TypeScript entry named in workerData.entry (as bin/bluetill-backend.mjs does for the CLI).
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);

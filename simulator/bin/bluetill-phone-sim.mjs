#!/usr/bin/env node
// bluetill-phone for testers: the same CLI, with --card-file (a simulated EMV card in process).
import { register } from 'tsx/esm/api';
register();
const { runPhoneCliWithSimulatedCards } = await import('../src/phone/phone-cli.ts');
await runPhoneCliWithSimulatedCards(process.argv);

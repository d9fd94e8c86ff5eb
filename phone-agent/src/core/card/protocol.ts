/**
 * The protocol names the card flow uses, in one place. protocol/src/index.ts does not re-export
 * the emv and apdu modules yet; once it does, replace both lines with
 * `export * from '@bluetill/protocol'`.
 */
export * from '../../../../protocol/src/emv/index';
export * from '../../../../protocol/src/apdu/index';
export { assertNever } from '../../../../protocol/src/errors';

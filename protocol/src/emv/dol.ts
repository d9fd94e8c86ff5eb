import { concatBytes } from '../bytes';
import { readTag } from './tlv';
import { TlvError } from './errors';

/** One entry of a Data Object List (PDOL, CDOL1, DDOL...): a tag and the length the card wants. */
export type DolEntry = { tag: string; length: number };

/** The most data a DOL may ask for: it has to fit the data field of one short command APDU. */
export const MAX_DOL_DATA = 252;

/**
 * Parses a DOL (tag ‖ one-byte length pairs, no values), EMV Book 3 section 5.4. Throws TlvError,
 * also when the DOL asks for more than MAX_DOL_DATA bytes in all: a card cannot make the reader
 * build (or allocate) more than one command's worth of data.
 */
export function parseDol(bytes: Uint8Array): DolEntry[] {
  const out: DolEntry[] = [];
  let at = 0;
  let total = 0;
  while (at < bytes.length) {
    const { tag, next } = readTag(bytes, at);
    if (next >= bytes.length) throw new TlvError('truncated_length', `DOL entry ${tag} has no length`);
    const length = bytes[next]!;
    total += length;
    if (total > MAX_DOL_DATA)
      throw new TlvError('bad_length', `DOL asks for more than ${MAX_DOL_DATA} bytes`);
    out.push({ tag, length });
    at = next + 1;
  }
  return out;
}

/** Total length of the data a DOL asks for. */
export function dolDataLength(dol: readonly DolEntry[]): number {
  return dol.reduce((n, e) => n + e.length, 0);
}

/** Tags whose format is numeric (n): padded/truncated on the left, Book 3 section 5.4. */
const NUMERIC_TAGS = new Set([
  '9F02',
  '9F03',
  '5F2A',
  '9F1A',
  '9A',
  '9C',
  '5F36',
  '9F21',
  '9F41',
  '5F34',
  '9F15',
]);

/**
 * Builds the data for a DOL from the values the terminal (or phone) has: each value is fitted to
 * the requested length (numeric: left-padded with zeros or cut on the left; others: right-padded
 * with zeros or cut on the right); absent values become zeros.
 */
export function buildDolData(
  dol: readonly DolEntry[],
  values: ReadonlyMap<string, Uint8Array> | Record<string, Uint8Array>,
): Uint8Array {
  const get = (tag: string): Uint8Array | undefined =>
    values instanceof Map ? values.get(tag) : (values as Record<string, Uint8Array>)[tag];
  return concatBytes(
    ...dol.map(({ tag, length }) => {
      const v = get(tag);
      const out = new Uint8Array(length);
      if (!v) return out;
      if (NUMERIC_TAGS.has(tag)) {
        if (v.length >= length) out.set(v.subarray(v.length - length));
        else out.set(v, length - v.length);
      } else {
        out.set(v.subarray(0, Math.min(length, v.length)));
      }
      return out;
    }),
  );
}

/** Splits DOL-related data back into values by tag; undefined when the length does not match. */
export function splitDolData(
  dol: readonly DolEntry[],
  data: Uint8Array,
): Map<string, Uint8Array> | undefined {
  if (data.length !== dolDataLength(dol)) return undefined;
  const out = new Map<string, Uint8Array>();
  let at = 0;
  for (const { tag, length } of dol) {
    out.set(tag, data.slice(at, at + length));
    at += length;
  }
  return out;
}

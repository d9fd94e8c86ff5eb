import { concatBytes } from '../bytes';
import { readLength, readTag } from './tlv';

/** One entry of a Data Object List (PDOL, CDOL1, DDOL...): a tag and the length the card wants. */
export type DolEntry = { tag: string; length: number };

/** Parses a DOL (tag ‖ length pairs, no values), EMV Book 3 section 5.4. Throws TlvError. */
export function parseDol(bytes: Uint8Array): DolEntry[] {
  const out: DolEntry[] = [];
  let at = 0;
  while (at < bytes.length) {
    const { tag, next } = readTag(bytes, at);
    const { length, next: after } = readLength(bytes, next);
    out.push({ tag, length });
    at = after;
  }
  return out;
}

/** Total length of the data a DOL asks for. */
export function dolDataLength(dol: readonly DolEntry[]): number {
  return dol.reduce((n, e) => n + e.length, 0);
}

/** Tags whose format is numeric (n): padded/truncated on the left, Book 3 section 5.4. */
const NUMERIC_TAGS = new Set(['9F02', '9F03', '5F2A', '9F1A', '9A', '9C', '5F36', '9F21', '9F41', '5F34', '9F15']);

/**
 * Builds the data for a DOL from the values the terminal (or phone) has: each value is fitted to
 * the requested length (numeric: left-padded with zeros or cut on the left; others: right-padded
 * with zeros or cut on the right); absent values become zeros.
 */
export function buildDolData(dol: readonly DolEntry[], values: ReadonlyMap<string, Uint8Array> | Record<string, Uint8Array>): Uint8Array {
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
export function splitDolData(dol: readonly DolEntry[], data: Uint8Array): Map<string, Uint8Array> | undefined {
  if (data.length !== dolDataLength(dol)) return undefined;
  const out = new Map<string, Uint8Array>();
  let at = 0;
  for (const { tag, length } of dol) {
    out.set(tag, data.slice(at, at + length));
    at += length;
  }
  return out;
}

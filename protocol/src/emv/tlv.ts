import { concatBytes } from '../bytes';
import { TlvError } from './errors';

/**
 * One BER-TLV data object as EMV Book 3 Annex B profiles it. `tag` is upper-case hex ("9F26").
 * Constructed objects (bit 6 of the first tag byte set) carry their parsed `children`; `value`
 * always holds the raw value bytes.
 */
export type Tlv = { tag: string; value: Uint8Array; children?: Tlv[] };

/** Deepest nesting accepted when decoding; real EMV data nests 3 levels at most. */
export const MAX_TLV_DEPTH = 16;
const MAX_TAG_BYTES = 4;

/** True when the tag's first byte has the "constructed" bit (b6) set. */
export function isConstructedTag(tag: string): boolean {
  const first = parseInt(tag.slice(0, 2), 16);
  return (first & 0x20) !== 0;
}

/** Reads one tag at `at`; returns its hex and the offset after it. */
export function readTag(bytes: Uint8Array, at: number): { tag: string; next: number } {
  const first = bytes[at];
  if (first === undefined) throw new TlvError('truncated_tag', `tag expected at offset ${at}`);
  if (first === 0x00 || first === 0xff) throw new TlvError('bad_tag', `invalid tag byte at offset ${at}`);
  let end = at + 1;
  if ((first & 0x1f) === 0x1f) {
    for (;;) {
      const b = bytes[end];
      if (b === undefined) throw new TlvError('truncated_tag', `tag truncated at offset ${end}`);
      end += 1;
      if (end - at > MAX_TAG_BYTES)
        throw new TlvError('tag_too_long', `tag longer than ${MAX_TAG_BYTES} bytes at offset ${at}`);
      if ((b & 0x80) === 0) break;
    }
  }
  return { tag: Buffer.from(bytes.subarray(at, end)).toString('hex').toUpperCase(), next: end };
}

/** Reads one length (short form, or long form 81/82/83) at `at`. */
export function readLength(bytes: Uint8Array, at: number): { length: number; next: number } {
  const first = bytes[at];
  if (first === undefined) throw new TlvError('truncated_length', `length expected at offset ${at}`);
  if (first < 0x80) return { length: first, next: at + 1 };
  const count = first & 0x7f;
  if (count === 0 || count > 3)
    throw new TlvError('bad_length', `unsupported length form 0x${first.toString(16)} at offset ${at}`);
  if (at + 1 + count > bytes.length)
    throw new TlvError('truncated_length', `length truncated at offset ${at}`);
  let length = 0;
  for (let i = 1; i <= count; i += 1) length = length * 256 + (bytes[at + i] as number);
  return { length, next: at + 1 + count };
}

function decodeAt(bytes: Uint8Array, depth: number): Tlv[] {
  if (depth > MAX_TLV_DEPTH) throw new TlvError('too_deep', `TLV nested deeper than ${MAX_TLV_DEPTH}`);
  const out: Tlv[] = [];
  let at = 0;
  while (at < bytes.length) {
    // Book 3 Annex B: '00' bytes may occur before, between or after data objects.
    if (bytes[at] === 0x00) {
      at += 1;
      continue;
    }
    const { tag, next } = readTag(bytes, at);
    const { length, next: valueAt } = readLength(bytes, next);
    if (valueAt + length > bytes.length)
      throw new TlvError('truncated_value', `value of tag at offset ${at} runs past the end`);
    const value = bytes.slice(valueAt, valueAt + length);
    out.push(isConstructedTag(tag) ? { tag, value, children: decodeAt(value, depth + 1) } : { tag, value });
    at = valueAt + length;
  }
  return out;
}

/** Decodes a sequence of BER-TLV objects. Throws only TlvError on malformed input. */
export function decodeTlv(bytes: Uint8Array): Tlv[] {
  return decodeAt(bytes, 0);
}

/** Encodes a tag given as hex; checks it is one well-formed tag. */
export function encodeTag(tag: string): Uint8Array {
  if (!/^(?:[0-9A-Fa-f]{2})+$/.test(tag)) throw new TlvError('bad_tag', 'tag is not hex');
  const bytes = new Uint8Array(Buffer.from(tag, 'hex'));
  const { next } = readTag(bytes, 0);
  if (next !== bytes.length) throw new TlvError('bad_tag', 'tag has trailing bytes');
  return bytes;
}

/** Minimal BER length: short form below 128, else 81/82/83. */
export function encodeLength(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0)
    throw new TlvError('bad_length', 'negative or fractional length');
  if (length < 0x80) return Uint8Array.of(length);
  if (length <= 0xff) return Uint8Array.of(0x81, length);
  if (length <= 0xffff) return Uint8Array.of(0x82, length >> 8, length & 0xff);
  if (length <= 0xffffff) return Uint8Array.of(0x83, length >> 16, (length >> 8) & 0xff, length & 0xff);
  throw new TlvError('bad_length', 'length above 3 bytes');
}

function encodeOne(node: Tlv, depth: number): Uint8Array {
  if (depth > MAX_TLV_DEPTH) throw new TlvError('too_deep', `TLV nested deeper than ${MAX_TLV_DEPTH}`);
  const tag = encodeTag(node.tag);
  let value = node.value;
  if (node.children !== undefined) {
    if (!isConstructedTag(node.tag))
      throw new TlvError('children_on_primitive', 'children given for a primitive tag');
    value = concatBytes(...node.children.map((c) => encodeOne(c, depth + 1)));
  }
  return concatBytes(tag, encodeLength(value.length), value);
}

/** Encodes BER-TLV objects; a node's `children`, when present, replace its `value`. */
export function encodeTlv(nodes: readonly Tlv[]): Uint8Array {
  return concatBytes(...nodes.map((n) => encodeOne(n, 0)));
}

/** Shorthand for one primitive object. */
export function tlv(tag: string, value: Uint8Array): Uint8Array {
  return encodeTlv([{ tag, value }]);
}

/** Depth-first search for the first object with this tag (children included). */
export function findTlv(nodes: readonly Tlv[], tag: string): Tlv | undefined {
  const want = tag.toUpperCase();
  for (const n of nodes) {
    if (n.tag === want) return n;
    if (n.children) {
      const hit = findTlv(n.children, want);
      if (hit) return hit;
    }
  }
  return undefined;
}

/** Value of the first object with this tag, searched recursively. */
export function findTag(nodes: readonly Tlv[], tag: string): Uint8Array | undefined {
  return findTlv(nodes, tag)?.value;
}

/** Every primitive object, flattened depth-first (tag → first value wins). */
export function flattenTlv(
  nodes: readonly Tlv[],
  into: Map<string, Uint8Array> = new Map(),
): Map<string, Uint8Array> {
  for (const n of nodes) {
    if (n.children) flattenTlv(n.children, into);
    else if (!into.has(n.tag)) into.set(n.tag, n.value);
  }
  return into;
}

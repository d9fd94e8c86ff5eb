/** Small byte helpers shared by the protocol modules. */
export const concatBytes = (...parts: readonly Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

export const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex').toUpperCase();

export const fromHex = (hex: string): Uint8Array => {
  const clean = hex.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) throw new Error('fromHex: not an even-length hex string');
  return new Uint8Array(Buffer.from(clean, 'hex'));
};

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);

/** Copies into a plain Uint8Array (protobuf and Buffer views can share a larger backing store). */
export const own = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes);

/**
 * Card data never reaches a log line or an error message in clear. maskPan shows first 6 / last
 * 4; redact() walks an object and masks every field whose name says card data.         [ISO]
 */
export function maskPan(pan: string): string {
  if (pan.length < 11) return '*'.repeat(pan.length);
  return `${pan.slice(0, 6)}${'*'.repeat(pan.length - 10)}${pan.slice(-4)}`;
}

const SECRET_KEYS =
  /^(pin|pinBlock|sealedPinBlock|track2|cvv|cvc|key|privateKey|secret|template|biometricTemplate|knowledgeSecret)$/i;
const PAN_KEYS = /^(pan|cardNumber|primaryAccountNumber)$/i;

export function redact<T>(value: T, depth = 0): T {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return `<${value.length} bytes>` as unknown as T;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1)) as unknown as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (PAN_KEYS.test(k) && typeof v === 'string') out[k] = maskPan(v);
    else if (SECRET_KEYS.test(k)) out[k] = '[redacted]';
    else out[k] = redact(v, depth + 1);
  }
  return out as T;
}

/** Paths for pino's redact option (the logger's own guard, beside redact()). */
export const LOG_REDACT_PATHS = [
  'pan',
  '*.pan',
  '*.*.pan',
  'pin',
  '*.pin',
  'sealedPinBlock',
  '*.sealedPinBlock',
  'card.records',
  '*.card.records',
  'template',
  '*.template',
  'secret',
  '*.secret',
  'biometricTemplate',
  '*.biometricTemplate',
  'knowledgeSecret',
  '*.knowledgeSecret',
];

/**
 * Validation of every request payload at the host's edge (WebSocket and IPC alike): strict
 * objects, bounded strings and integers. Anything else is answered with `bad_request`.
 */
import { z } from 'zod';
import type { RequestChannel, RequestOf } from './channels';

const sku = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash, underscore');
/** Basket and session ids as the till makes them; a phone's session is named by its BLE link (`11#10`: handle and count). */
const id = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:#-]+$/, 'letters, digits and . _ : # -');
const quantity = z.number().int().min(1).max(999);
const none = z.object({}).strict();
const cashierId = z
  .string()
  .trim()
  .min(1)
  .max(32)
  .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, dot, dash, underscore');
const secret = z.string().min(4).max(128);
const approval = z.object({ managerId: cashierId, secret }).strict();

export const REQUEST_SCHEMAS = {
  'auth:sign-in': z.object({ cashierId, secret }).strict(),
  'auth:resume': z.object({ resumeToken: z.string().regex(/^[A-Za-z0-9_-]{43}$/) }).strict(),
  'auth:sign-out': none,
  'till:snapshot': none,
  'catalog:search': z
    .object({ query: z.string().max(100), limit: z.number().int().min(1).max(100).optional() })
    .strict(),
  'catalog:scan': z.object({ barcode: z.string().regex(/^[0-9]{4,14}$/, '4 to 14 digits') }).strict(),
  'catalog:upsert': z
    .object({
      sku,
      barcode: z
        .string()
        .regex(/^[0-9]{4,14}$/, '4 to 14 digits')
        .nullable()
        .optional(),
      name: z.string().trim().min(1).max(40),
      priceMinor: z.number().int().min(0).max(10_000_000),
    })
    .strict(),
  'draft:add': z.object({ sku, quantity: quantity.optional() }).strict(),
  'draft:set-quantity': z.object({ sku, quantity }).strict(),
  'draft:remove': z.object({ sku }).strict(),
  'draft:clear': none,
  'basket:charge': none,
  'basket:assign': z.object({ basketId: id, sessionId: id }).strict(),
  'basket:cancel': z.object({ basketId: id }).strict(),
  'session:cancel': z.object({ sessionId: id }).strict(),
  'basket:pay-code': z
    .object({ basketId: id.optional(), code: z.string().regex(/^[0-9]{8}$/, '8 digits') })
    .strict(),
  'receipt:history': z
    .object({
      query: z.string().max(100).optional(),
      date: z
        .string()
        .regex(/^\d{4}-\d{2}-\d{2}$/)
        .optional(),
      limit: z.number().int().min(1).max(500).optional(),
    })
    .strict(),
  'receipt:print': z.object({ terminalTxnId: id }).strict(),
  'receipt:pdf': z.object({ terminalTxnId: id }).strict(),
  'receipt:refund': z
    .object({
      terminalTxnId: id,
      amountMinor: z.number().int().min(1).max(100_000_000),
      approval: approval.optional(),
    })
    .strict(),
  'receipt:void': z.object({ terminalTxnId: id, approval: approval.optional() }).strict(),
  'batch:close': z.object({ approval: approval.optional() }).strict(),
} satisfies { [C in RequestChannel]: z.ZodType<RequestOf<C>> };

/** The envelope of a WebSocket request. */
export const wireRequest = z
  .object({
    id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    channel: z.string().max(64),
    payload: z.unknown(),
  })
  .strict();

/** Parses a payload for a channel; throws a readable message on bad input (never echoes the input). */
export function parseRequest<C extends RequestChannel>(
  channel: C,
  payload: unknown,
): { ok: true; value: RequestOf<C> } | { ok: false; message: string } {
  const r = (REQUEST_SCHEMAS[channel] as z.ZodType<RequestOf<C>>).safeParse(payload ?? {});
  if (r.success) return { ok: true, value: r.data };
  const first = r.error.issues[0];
  return {
    ok: false,
    message: first ? `${first.path.join('.') || 'payload'}: ${first.message}` : 'invalid payload',
  };
}

import { luhnCheckDigit } from '@bluetill/backend';

/** The offline tests' card series: each its own PAN range, PINs and names, so their cards never meet. */
const SERIES = {
  offline: { pan: '67999903000000', pinBase: 2000, name: 'OFFLINE SHOPPER' },
  scale: { pan: '67999905000000', pinBase: 3000, name: 'SCALE SHOPPER' },
} as const;

/**
 * Card n (1…9999) of a series for the offline tests, as the rig issues cards: a 500.00 EUR credit
 * limit and the card's own offline limits (`lowerConsecutive` sales in a row offline, at most 10
 * and 200.00 EUR before it must go online).
 */
export function offlineCard(series: keyof typeof SERIES, n: number, lowerConsecutive = 5) {
  const s = SERIES[series];
  const body = `${s.pan}${String(n).padStart(4, '0')}`;
  return {
    id: `card-${series}-${n}`,
    pan: body + luhnCheckDigit(body),
    expiry: '3012',
    cardholderName: `${s.name} ${n}`,
    pin: String(s.pinBase + n),
    creditLimitMinor: 500_00,
    currency: 'EUR',
    offlineLimits: { lowerConsecutive, upperConsecutive: 10, amountMinor: 200_00, currency: 978 },
  };
}

import { describe, expect, it } from 'vitest';
import { stepDurations } from './phone-run';

describe('stepDurations', () => {
  it('a card read partly ahead of the UN: its time is both parts; the part after the UN is what the payment waited on', () => {
    const d = stepDurations({
      shopperMs: 0,
      connectAt: 100,
      cardReadStartAt: 1,
      cardPrefixEndAt: 421,
      cardUnAt: 450,
      cardReadEndAt: 583,
      pinEnteredAt: 583,
      basketAt: 700,
      confirmedAt: 700,
      receiptAt: 900,
    });
    expect(d).toEqual({
      arrivalToBasketMs: 700,
      cardReadMs: 420 + 133,
      cardAfterUnMs: 133,
      pinToAuthorizedMs: 117,
      confirmToReceiptMs: 200,
      machineMs: 800,
    });
  });

  it("a card read all after the UN: first APDU to last, all of it waited on; the shopper's own time is not the machine's", () => {
    const d = stepDurations({
      shopperMs: 3_500,
      connectAt: 100,
      cardReadStartAt: 400,
      cardUnAt: 400,
      cardReadEndAt: 900,
      pinEnteredAt: 2_900,
      basketAt: 3_000,
      confirmedAt: 4_500,
      receiptAt: 4_700,
    });
    expect(d).toMatchObject({ cardReadMs: 500, cardAfterUnMs: 500, machineMs: 4_600 - 3_500 });
  });
});

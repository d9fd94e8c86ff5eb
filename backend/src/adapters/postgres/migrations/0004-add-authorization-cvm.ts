/**
 * Which cardholder verification method an authorization was given for (claims 10, 16, 17):
 * 'online_pin' (the sealed PIN block, checked by the authorization server; every authorization
 * before this migration) or a method the card checks itself, which settlement then requires the
 * card's verified cryptogram to show as passed.
 */
export const up = `
  ALTER TABLE authorizations ADD COLUMN cvm text NOT NULL DEFAULT 'online_pin'
    CHECK (cvm IN ('online_pin', 'offline_pin', 'biometric', 'knowledge'));
`;

/**
 * A terminal's live challenges are bounded (the authorization server keeps its newest few and
 * evicts the rest, ChallengeStore.boundChallenges). An unused challenge may therefore be deleted
 * before it expires: once gone it can never be redeemed, so nothing is weakened. A used one still
 * stays until it has expired by the database's clock (deleting it early would let the same
 * number be inserted again unused and redeemed twice). Same rule for the phones' challenges; every
 * other rule of `challenge_used_once` (0008) is unchanged.
 */
export const up = `
  CREATE OR REPLACE FUNCTION challenge_used_once() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'DELETE' THEN
      IF OLD.used_at IS NOT NULL AND OLD.expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint THEN
        RAISE EXCEPTION 'a used challenge is deleted only once expired' USING ERRCODE = 'check_violation', CONSTRAINT = 'challenge_used_once';
      END IF;
      RETURN OLD;
    END IF;
    IF OLD.used_at IS NOT NULL THEN
      RAISE EXCEPTION 'challenge already used' USING ERRCODE = 'check_violation', CONSTRAINT = 'challenge_used_once';
    END IF;
    IF NEW.expires_at IS DISTINCT FROM OLD.expires_at OR NEW.un IS DISTINCT FROM OLD.un THEN
      RAISE EXCEPTION 'a challenge''s number and expiry never change' USING ERRCODE = 'check_violation', CONSTRAINT = 'challenge_used_once';
    END IF;
    IF NEW.used_at > OLD.expires_at THEN
      RAISE EXCEPTION 'challenge expired' USING ERRCODE = 'check_violation', CONSTRAINT = 'challenge_used_once';
    END IF;
    RETURN NEW;
  END $$;
`;

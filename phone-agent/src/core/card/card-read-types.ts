/** The values the card exchanges return and take: CardRead, Cryptogram, TransactionData. */
import type { ReadRecord } from '@bluetill/protocol';

/** A certified public key as read from the card (certificate, remainder, exponent). */
export type CardCertificate = { certificate: Uint8Array; remainder: Uint8Array; exponent: Uint8Array };

/** What the phone learned from the card's reading flow (PPSE → AID → GPO → records → INTERNAL AUTHENTICATE). */
export type CardRead = {
  aid: Uint8Array;
  label: string;
  /** PAN digits (card data: never log; pass through redact). */
  pan: string;
  /** 5F24 as YYMMDD digits. */
  expiry: string;
  cardholderName: string;
  /** PAN sequence number (5F34), 0..99; undefined when the card has none. */
  psn: number | undefined;
  track2: Uint8Array | undefined;
  aip: Uint8Array;
  afl: Uint8Array;
  /** The PDOL data sent with GET PROCESSING OPTIONS (needed again for the CDA hash). */
  pdolData: Uint8Array;
  cdol1: Uint8Array;
  /** 8D, the data list of a second GENERATE AC (after the online answer); undefined on a card without one. */
  cdol2?: Uint8Array | undefined;
  ddol: Uint8Array;
  cvmList: Uint8Array | undefined;
  caPublicKeyIndex: number | undefined;
  issuerCertificate: CardCertificate | undefined;
  iccCertificate: CardCertificate | undefined;
  /** Static data to be authenticated (ODA records, plus AIP if the SDA tag list names it). */
  staticData: Uint8Array;
  /** The unpredictable number signed by INTERNAL AUTHENTICATE. */
  unpredictableNumber: Uint8Array;
  /** Signed Dynamic Application Data (9F4B) from INTERNAL AUTHENTICATE; undefined when the card has no DDA. */
  signedDynamicData: Uint8Array | undefined;
  /** Every record as read, in AFL order. */
  records: ReadRecord[];
};

/**
 * What a card gives before the till's unpredictable number is known (SELECT PPSE, SELECT AID, a GPO
 * whose transaction is then ended by selecting the application again, READ RECORD): the reading
 * flow continues from it with the UN (GPO, INTERNAL AUTHENTICATE). Holds card data: never log it.
 */
export type CardPrefix = {
  aid: Uint8Array;
  label: string;
  /** 9F38 as the card's FCI gave it. */
  pdol: Uint8Array;
  aip: Uint8Array;
  afl: Uint8Array;
  /** The records in AFL order, each marked when it takes part in offline data authentication. */
  records: Array<ReadRecord & { oda: boolean }>;
};

/** The card's answer to GENERATE AC. */
export type Cryptogram = {
  /** 9F27: 80 ARQC, 40 TC, 00 AAC. */
  cid: number;
  atc: Uint8Array;
  /** 9F26; undefined with CDA (the AC is then inside the signature). */
  arqc: Uint8Array | undefined;
  iad: Uint8Array;
  cvmResults: Uint8Array | undefined;
  /** 9F4B when CDA was requested and performed. */
  cdaSignature: Uint8Array | undefined;
  /** CDOL1 data sent (the issuer recomputes the AC over it). */
  cdolData: Uint8Array;
  /** Response data objects other than 9F4B, TLV-encoded in order (input to the CDA hash). */
  responseObjects: Uint8Array;
};

/** The transaction facts the phone hands to the card. */
export type TransactionData = {
  /** Amount in minor units. */
  amount: bigint;
  /** ISO 4217 numeric currency code, e.g. 978. */
  currency: number;
  /** ISO 3166 numeric country code of the till, e.g. 276. */
  country: number;
  /** The 4-byte unpredictable number issued by the authorization server. */
  unpredictableNumber: Uint8Array;
  date: Date;
  /** 9C, 0 = purchase. */
  type?: number;
};

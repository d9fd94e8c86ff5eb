import { CardReaderError, type CardReader } from '../ports/card-reader';

type Line = { kind: 'atr' | 'command' | 'response'; bytes: Uint8Array; text: string; lineNo: number };

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex').toUpperCase();

/** Thrown for a transcript that does not parse (a test-authoring mistake, not a card problem). */
export type TranscriptErrorCode = 'bad_line' | 'not_hex' | 'no_response';

export class TranscriptError extends Error {
  constructor(
    readonly code: TranscriptErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'TranscriptError';
  }
}

/**
 * A CardReader that plays back a recorded APDU transcript:
 *
 *   # comment
 *   ATR 3B80800101
 *   => 00A404000E325041592E5359532E444446303100
 *   <= 6F..9000
 *
 * Each transmit must send exactly the next `=>` command (spaces and case ignored), else it
 * rejects with CardReaderError('unexpected_command'); close() rejects the same way when lines are
 * left over. A `<= REMOVED` line makes that exchange fail with card_removed.
 */
export class ReplayCardReader implements CardReader {
  private readonly lines: Line[] = [];
  private at = 0;

  constructor(transcript: string) {
    transcript.split(/\r?\n/).forEach((raw, i) => {
      const text = raw.trim();
      if (text === '' || text.startsWith('#')) return;
      const m = /^(ATR|=>|<=)\s*(.*)$/.exec(text);
      if (!m) throw new TranscriptError('bad_line', `transcript line ${i + 1}: expected ATR, => or <=`);
      const body = (m[2] ?? '').replace(/\s+/g, '');
      const kind = m[1] === 'ATR' ? 'atr' : m[1] === '=>' ? 'command' : 'response';
      if (kind === 'response' && body.toUpperCase() === 'REMOVED') {
        this.lines.push({ kind, bytes: new Uint8Array(0), text: 'REMOVED', lineNo: i + 1 });
        return;
      }
      if (!/^(?:[0-9A-Fa-f]{2})+$/.test(body))
        throw new TranscriptError('not_hex', `transcript line ${i + 1}: not hex`);
      this.lines.push({
        kind,
        bytes: new Uint8Array(Buffer.from(body, 'hex')),
        text: body.toUpperCase(),
        lineNo: i + 1,
      });
    });
  }

  async waitForCard(_options: { timeoutMs: number }): Promise<{ atr: Uint8Array }> {
    const line = this.lines[this.at];
    if (line?.kind !== 'atr') throw new CardReaderError('no_card', 'transcript has no ATR here');
    this.at += 1;
    return { atr: line.bytes };
  }

  async transmit(command: Uint8Array): Promise<Uint8Array> {
    const want = this.lines[this.at];
    if (!want || want.kind !== 'command') {
      throw new CardReaderError(
        'unexpected_command',
        `unexpected command ${hexOf(command).slice(0, 8)}…: transcript ${want ? `has ${want.kind} at line ${want.lineNo}` : 'is finished'}`,
      );
    }
    if (want.text !== hexOf(command)) {
      // Only the header is named: the data may be card data.
      throw new CardReaderError(
        'unexpected_command',
        `unexpected command ${hexOf(command).slice(0, 8)}…, transcript line ${want.lineNo} expects ${want.text.slice(0, 8)}…`,
      );
    }
    const answer = this.lines[this.at + 1];
    if (!answer || answer.kind !== 'response')
      throw new TranscriptError('no_response', `transcript line ${want.lineNo}: command without a response`);
    this.at += 2;
    if (answer.text === 'REMOVED') throw new CardReaderError('card_removed', 'card removed (transcript)');
    return answer.bytes;
  }

  /** Lines not yet played. */
  get remaining(): number {
    return this.lines.length - this.at;
  }

  async close(): Promise<void> {
    if (this.at < this.lines.length) {
      const next = this.lines[this.at] as Line;
      throw new CardReaderError(
        'unexpected_command',
        `transcript has ${this.lines.length - this.at} line(s) left, next at line ${next.lineNo}`,
      );
    }
  }
}

/**
 * Expected failures at the protocol's edges. Each carries a machine-readable `code`; messages
 * never contain card data. Bugs are not ProtocolErrors: they throw plain Errors.
 */
export class ProtocolError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}

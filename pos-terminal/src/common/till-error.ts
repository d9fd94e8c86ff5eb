/** A request the core refuses before anything changes or leaves the till (the host maps the code to its API error). */
export class TillError extends Error {
  constructor(
    readonly code: 'bad_request' | 'not_found' | 'conflict',
    message: string,
  ) {
    super(message);
    this.name = 'TillError';
  }
}

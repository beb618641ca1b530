/**
 * Errors of the state stores. `fatal` ones stop the partition (a corrupt or
 * locked store: retrying will not help until a person acts); the others may
 * succeed on retry.
 */
export type StateStoreErrorCode = 'locked' | 'open' | 'read' | 'write' | 'closed';

export class StateStoreError extends Error {
  readonly code: StateStoreErrorCode;
  readonly fatal: boolean;

  constructor(code: StateStoreErrorCode, message: string, opts: { cause?: unknown; fatal: boolean }) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'StateStoreError';
    this.code = code;
    this.fatal = opts.fatal;
  }
}

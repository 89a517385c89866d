import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';

export type Constructor<T> = new (...args: never[]) => T;

/** One failed constraint, with the dotted path of the field (e.g. `inputs.2.text`). */
export interface FieldError {
  readonly field: string;
  readonly messages: readonly string[];
}

export class ContractValidationError extends Error {
  constructor(
    readonly subject: string,
    readonly fieldErrors: readonly FieldError[],
  ) {
    super(`${subject} is invalid: ${formatFieldErrors(fieldErrors)}`);
    this.name = 'ContractValidationError';
  }
}

export function formatFieldErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.messages.join('; ')}`).join(', ');
}

export function flattenValidationErrors(errors: readonly ValidationError[], prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const error of errors) {
    const field = prefix ? `${prefix}.${error.property}` : error.property;
    if (error.constraints) out.push({ field, messages: Object.values(error.constraints) });
    if (error.children?.length) out.push(...flattenValidationErrors(error.children, field));
  }
  return out;
}

/**
 * What validation does with a field the class does not declare:
 * - `reject` (the default): an error naming it, so that a typo in a field name is an error
 *   rather than silently ignored — for what people write (workflow specs, the HTTP API);
 * - `keep`: not validated, kept on the instance as it came — for events on the mesh, so a
 *   consumer of version N accepts an event of version N from a newer producer that added an
 *   optional field, and republishing the data passes the field on (see docs/architecture.md,
 *   "Rolling upgrades and schema evolution").
 */
export type UnknownFields = 'reject' | 'keep';

/**
 * Builds an instance of `cls` from plain data and validates it. Unknown properties are
 * rejected (or kept, with `unknownFields: 'keep'`). class-transformer drops keys named like
 * Object.prototype's members (`__proto__`, `constructor`, ...) in either case.
 */
export function validatePlain<T extends object>(
  cls: Constructor<T>,
  plain: unknown,
  subject: string,
  unknownFields: UnknownFields = 'reject',
): T {
  if (plain === null || typeof plain !== 'object' || Array.isArray(plain)) {
    throw new ContractValidationError(subject, [{ field: '(root)', messages: ['must be an object'] }]);
  }
  const instance = plainToInstance(cls as unknown as new () => T, plain);
  const errors = validateSync(instance, unknownFields === 'reject' ? STRICT : TOLERANT);
  if (errors.length > 0) throw new ContractValidationError(subject, flattenValidationErrors(errors));
  return instance;
}

const STRICT = { whitelist: true, forbidNonWhitelisted: true } as const;
const TOLERANT = {} as const;

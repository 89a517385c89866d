/** The fields describeError reads; any of them may be missing on a thrown value. */
interface ErrorLike {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly code?: unknown;
  readonly errors?: unknown;
}

/**
 * One line for anything thrown, for logs, failure events and dead-letter reasons:
 * `<name>: <message>` (`SkillInputError: text is empty`), the code when there is no message
 * (`Error: ECONNREFUSED`), each inner error of an AggregateError joined by `; `, and `String()`
 * of anything else. Realm-independent: it reads fields rather than testing `instanceof Error`,
 * which errors from Node's own modules fail under Jest's VM.
 */
export function describeError(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error);
  const { name, message, code, errors } = error as ErrorLike;
  if (Array.isArray(errors) && errors.length > 0) return errors.map(describeError).join('; ');
  const text = nonEmptyString(message) ?? nonEmptyString(code);
  if (text === undefined) return String(error);
  const label = nonEmptyString(name);
  return label === undefined ? text : `${label}: ${text}`;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Prompt templates: `{{text}}`, `{{id}}` and `{{params.<dotted.path>}}` replaced by the input's
 * values. Hand-written (no template library is installed, and a prompt needs no logic): a
 * variable is looked up, never evaluated, so a template cannot run code. Objects and lists are
 * inserted as JSON; a missing variable is an error naming it.
 */

const VARIABLE = /\{\{\s*([^{}]*?)\s*\}\}/g;
const PATH = /^[A-Za-z_$][\w$-]*(\.[\w$-]+)*$/;

export interface TemplateValues {
  readonly text: string;
  readonly id: string;
  readonly params: Readonly<Record<string, unknown>>;
}

/** The template with every variable replaced; throws TemplateError naming every missing or bad variable. */
export function renderTemplate(template: string, values: TemplateValues): string {
  const missing: string[] = [];
  const rendered = template.replace(VARIABLE, (whole, name: string) => {
    const value = PATH.test(name) ? lookup(values, name) : undefined;
    if (value === undefined || value === null) {
      if (!missing.includes(name)) missing.push(name);
      return whole;
    }
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
  if (missing.length > 0) throw new TemplateError(missing);
  return rendered;
}

export class TemplateError extends Error {
  constructor(readonly missing: readonly string[]) {
    super(`unknown template variable${missing.length > 1 ? 's' : ''} ${missing.map((m) => `{{${m}}}`).join(', ')}`);
    this.name = 'TemplateError';
  }
}

/** Own properties only: `{{params.constructor}}` is missing, not a function's source. */
function lookup(values: TemplateValues, path: string): unknown {
  let current: unknown = values;
  for (const segment of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

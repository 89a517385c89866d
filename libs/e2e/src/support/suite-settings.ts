/** A suite's whole-number setting from the environment (e.g. FAULTS_WORKFLOWS), or its default; a bad value stops the suite naming it. */
export function integerSetting(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer (got ${raw})`);
  return value;
}

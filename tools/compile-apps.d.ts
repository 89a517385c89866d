/** Replaces outDir with a build of `apps` and every library; returns the number of files compiled. */
export function compileApps(apps: readonly string[], outDir: string): number;

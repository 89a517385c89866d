import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/*
 * What the console's browser tests share: the console built as `nx build console` builds it, and a
 * real headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH) driven by playwright-core.
 */
export const WORKSPACE = join(__dirname, '../../../..');
/** Where the tests leave their screenshots. */
export const CONSOLE_SCREENSHOTS = join(WORKSPACE, 'tmp/e2e/console');
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Builds apps/console into dist/console: the same command as `nx build console` (apps/console/project.json). */
export function buildConsole(): void {
  const vite = join(WORKSPACE, 'node_modules/vite/bin/vite.js');
  const args = [vite, 'build', '--config', 'apps/console/vite.config.mts', '--logLevel', 'warn'];
  const run = spawnSync(process.execPath, args, { cwd: WORKSPACE, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`building the console failed:\n${run.stdout}\n${run.stderr}`);
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`no Chromium at ${CHROMIUM}: install the Debian package "chromium" (or set CHROMIUM_PATH)`);
  mkdirSync(CONSOLE_SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
}

export function screenshot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: join(CONSOLE_SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Opens the console, gives it the API key, and waits until its event stream is live. */
export async function openConsole(page: Page, baseUrl: string, key: string): Promise<void> {
  await page.goto(`${baseUrl}/console`);
  await page.getByTestId('stream-state').filter({ hasText: 'needs an API key' }).waitFor();
  await page.getByTestId('api-key').fill(key);
  await page.getByRole('button', { name: 'Use key' }).click();
  await page.getByTestId('stream-state').filter({ hasText: 'live' }).waitFor();
}

/**
 * The admin web page's users view on a user database, in Debian's chromium (headless, playwright-core):
 * the page offers add / edit / disable / remove because the server says users are editable; a user
 * added from the page with the keyboard only logs in over FTP (curl); disabled from the page, refused;
 * removed (after the confirmation). A narrow window still fits. Saves test-output/admin-users.png.
 * Needs `npm run build` and PostgreSQL.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.js';
import { assertBuilt, curl, killAll, REPO, removeTempDirs, Served, tempDir } from '../cli/cli.js';
import { postgresBin, startPostgres, type TestPostgres } from '../services/postgres.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = join(REPO, 'test-output');
const ADMIN = { name: 'admin', password: 'admin-Secret-1' };

describe.skipIf(!existsSync(CHROMIUM) || !postgresBin())('admin web page: users on a user database, in chromium', () => {
  let db: TestPostgres;
  let served: Served;
  let base: string;
  let browser: Browser;

  beforeAll(async () => {
    assertBuilt();
    db = await startPostgres();
    const dir = await tempDir();
    await mkdir(join(dir, 'root'));
    const config = join(dir, 'ftpsd.yaml');
    await writeFile(config, ['adminListen: 127.0.0.1:0', 'admin:', '  users:', `    - {name: ${ADMIN.name}, password: "${await hashPassword(ADMIN.password)}"}`, ''].join('\n'));
    await chmod(config, 0o600);
    served = await Served.start(['--listen', '127.0.0.1:0', '--implicit-listen', 'off', '--root', join(dir, 'root'), '--state-dir', join(dir, 'state'), '--config', config], { env: { FTPSD_USER_DB: db.url } });
    base = /^admin:\s+(https?:\/\/127\.0\.0\.1:\d+)\/$/m.exec(served.stdout)![1]!;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'], timeout: 30_000 });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await served?.stop();
    killAll();
    await db?.close();
    await removeTempDirs();
  });

  const ftpList = (user: string, password: string) => curl(['--ssl-reqd', '-k', '-u', `${user}:${password}`, `ftp://127.0.0.1:${served.port}/`]);

  it('adds a user with the keyboard, disables and removes it', async () => {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1000, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(base);
    await page.fill('#login-name', ADMIN.name);
    await page.fill('#login-password', ADMIN.password);
    await page.press('#login-password', 'Enter');
    await page.waitForSelector('#users-editor:not([hidden])');

    // Keyboard only: focus "Add user", Enter opens the form with the name focused; Tab through fields.
    await page.focus('#user-add');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#user-form:not([hidden])');
    expect(await page.evaluate('document.activeElement.id')).toBe('user-name');
    await page.keyboard.type('gina');
    await page.keyboard.press('Tab');
    await page.keyboard.type('gina-Pass-1');
    await page.keyboard.press('Tab'); // home: empty
    await page.keyboard.press('Tab');
    await page.keyboard.type('5000000');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#user-table tr[data-user="gina"]');
    await expect.poll(() => page.textContent('#message')).toMatch(/User gina added/);
    expect(await page.textContent('#user-table tr[data-user="gina"]')).toContain('4.8 MiB');
    expect((await ftpList('gina', 'gina-Pass-1')).code).toBe(0);
    await mkdir(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, 'admin-users.png'), fullPage: true });

    // Edit: read-only, through the Edit button.
    await page.click('#user-table tr[data-user="gina"] button:text("Edit")');
    expect(await page.evaluate('document.activeElement.id')).toBe('user-password');
    await page.check('#user-readonly');
    await page.press('#user-password', 'Enter');
    await expect.poll(() => page.textContent('#user-table tr[data-user="gina"]')).toContain('read-only');

    // Disable: refused over FTP; the row says so.
    await page.click('#user-table tr[data-user="gina"] button:text("Disable")');
    await expect.poll(() => page.textContent('#user-table tr[data-user="gina"]')).toContain('disabled');
    expect((await ftpList('gina', 'gina-Pass-1')).code).not.toBe(0);

    // A narrow window still fits (the table scrolls inside its section).
    await page.setViewportSize({ width: 380, height: 800 });
    expect(Number(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'))).toBeLessThanOrEqual(0);

    // Remove, after the confirmation.
    page.once('dialog', (d) => void d.accept());
    await page.click('#user-table tr[data-user="gina"] button.danger');
    await page.waitForSelector('#user-table tr[data-user="gina"]', { state: 'detached' });
    await context.close();
  }, 120_000);
});

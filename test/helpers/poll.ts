/**
 * Waiting for a condition without fixed sleeps: polls until it holds, and fails with what was awaited
 * after `timeoutMs` (a bound for a hang, not a timing assertion).
 */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * `ftpsd ban list|remove ADDRESS`: the login-failure bans every node shares through the user database.
 * `remove` takes the address (or network) as `ban list` shows it, or any address inside a banned IPv6
 * /64 when the bans use the default prefixes; every node lifts it within a second.
 */
import { isIP } from 'node:net';
import { banNetwork } from '../auth/ban-network.js';
import { DEFAULT_BAN } from '../settings.js';
import { UsageError } from '../runtime/exit.js';
import { openStore } from './user.js';

export async function banListCommand(flags: { userDb?: string; json?: boolean }, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const store = await openStore(flags);
  try {
    const bans = await store.bans();
    if (flags.json) {
      out.write(`${JSON.stringify(bans.map((b) => ({ network: b.network, until: new Date(b.until).toISOString(), failures: b.failures })), null, 2)}\n`);
      return;
    }
    if (bans.length === 0) out.write('no bans\n');
    for (const b of bans) out.write(`${b.network}  until ${new Date(b.until).toISOString()}  (${b.failures} failures)\n`);
  } finally {
    await store.close().catch(() => undefined);
  }
}

export async function banRemoveCommand(address: string, flags: { userDb?: string }, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  if (isIP(address.replace(/\/\d{1,3}$/, '')) === 0) throw new UsageError(`${JSON.stringify(address)} is not an address`);
  const store = await openStore(flags);
  try {
    let lifted = await store.unban(address);
    if (!lifted) {
      const network = banNetwork(address, DEFAULT_BAN);
      if (network !== address) lifted = await store.unban(network);
    }
    if (!lifted) throw new Error(`${address} is not banned`);
    out.write(`ban of ${address} lifted\n`);
  } finally {
    await store.close().catch(() => undefined);
  }
}

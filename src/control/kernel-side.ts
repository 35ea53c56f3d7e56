// Configures the kernel side of a TAP port with iproute2: move it into its namespace,
// rename, address, routes, bridge. Control plane only; runs once per port change.
import { execFileSync } from 'node:child_process';
import { existsSync, statfsSync } from 'node:fs';
import type { PortConfig, Gateway } from './port-config.js';
import { formatAddress, formatPrefix, type Prefix } from '../wire/addr.js';

export function ip(args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`ip ${args.join(' ')}: ${err || (e as Error).message}`);
  }
}

/** NSFS_MAGIC: a stale file left by a namespace deleted elsewhere is not a namespace. */
const NSFS_MAGIC = 0x6e736673;

export function netnsExists(name: string): boolean {
  const path = `/var/run/netns/${name}`;
  if (!existsSync(path)) return false;
  try {
    return statfsSync(path).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

/**
 * The namespaces ports move into must exist before the agent starts: an agent run under
 * `ip netns exec` has a private mount namespace, so a namespace it added would be
 * invisible to every other process.
 */
export function requireNetns(name: string, where: string): void {
  if (!netnsExists(name))
    throw new Error(`${where}: network namespace "${name}" does not exist (create it first: ip netns add ${name})`);
}

/**
 * Sets up the kernel side of a freshly created TAP `tap` (in the agent's namespace): moves
 * it into port.netns if set, renames it, addresses it. Endpoints get a host address and
 * routes via the gateway: a default route, or only `endpointRoutes` when given (the host
 * port of a cluster node reaches the cluster's CIDRs, not the world, through the dataplane).
 */
export function configureKernelSide(port: PortConfig, tap: string, gateway: Gateway, endpointRoutes?: Prefix[]): void {
  ip(['link', 'set', 'dev', tap, 'mtu', String(port.mtu)]);
  const ns = port.netns;
  const at = (args: string[]): string[] => (ns ? ['-n', ns, ...args] : args);
  if (ns) ip(['link', 'set', 'dev', tap, 'netns', ns]);
  const dev = port.ifname;
  if (dev !== tap) ip(at(['link', 'set', 'dev', tap, 'name', dev]));
  if (port.kind === 'endpoint') {
    // No DAD or router solicitations: the dataplane is the only other host on this link.
    sysctl(ns, `net.ipv6.conf.${dev}.accept_dad`, '0');
    sysctl(ns, `net.ipv6.conf.${dev}.accept_ra`, '0');
  }
  ip(at(['link', 'set', 'dev', dev, 'up']));
  if (port.bridge) ip(at(['link', 'set', 'dev', dev, 'master', port.bridge]));
  for (const a of port.peerAddresses)
    ip(at(['addr', 'add', formatPrefix(a), 'dev', dev, ...(a.family === 6 ? ['nodad'] : [])]));
  if (port.kind !== 'endpoint') return;
  // The Cilium endpoint model: a host address and the gateway on-link; every packet goes
  // to the dataplane.
  for (const [addr, gw] of [
    [port.ipv4, gateway.ipv4],
    [port.ipv6, gateway.ipv6],
  ] as const) {
    if (!addr || !gw) continue;
    const v6 = addr.family === 6;
    const g = formatAddress(gw);
    ip(at(['addr', 'add', `${formatAddress(addr)}/${v6 ? 128 : 32}`, 'dev', dev, ...(v6 ? ['nodad'] : [])]));
    ip(at([...(v6 ? ['-6'] : []), 'route', 'add', g, 'dev', dev, ...(v6 ? [] : ['scope', 'link'])]));
    const dests = endpointRoutes
      ? endpointRoutes.filter((p) => p.family === addr.family).map(formatPrefix)
      : ['default'];
    for (const d of dests)
      ip(at([...(v6 ? ['-6'] : []), 'route', 'add', d, 'via', g, 'dev', dev, 'mtu', String(port.mtu)]));
  }
}

function sysctl(ns: string | undefined, key: string, value: string): void {
  try {
    const argv = ['sysctl', '-qw', `${key}=${value}`];
    if (ns) execFileSync('ip', ['netns', 'exec', ns, ...argv], { stdio: 'ignore' });
    else execFileSync(argv[0], argv.slice(1), { stdio: 'ignore' });
  } catch {
    // Best effort: an older kernel without the knob still works, just noisier.
  }
}

// Configures the kernel side of a TAP port with iproute2: move it into its namespace,
// rename, address, routes, bridge. Control plane only; runs once per port change.
import { execFileSync } from 'node:child_process';
import { existsSync, statfsSync } from 'node:fs';
import { PortConfig, NodeConfig } from './config.js';
import { formatAddress, formatPrefix } from './addr.js';

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
  if (!netnsExists(name)) throw new Error(`${where}: network namespace "${name}" does not exist (create it first: ip netns add ${name})`);
}

/**
 * Sets up the kernel side of a freshly created TAP `tap` (in the agent's namespace).
 * Endpoints get a host address and a default route via the gateway.
 */
export function configureKernelSide(port: PortConfig, tap: string, cfg: NodeConfig): void {
  ip(['link', 'set', 'dev', tap, 'mtu', String(port.mtu)]);
  if (!port.netns) {
    for (const a of port.peerAddresses) ip(['addr', 'add', formatPrefix(a), 'dev', tap, ...(a.family === 6 ? ['nodad'] : [])]);
    ip(['link', 'set', 'dev', tap, 'up']);
    return;
  }
  const ns = port.netns;
  ip(['link', 'set', 'dev', tap, 'netns', ns]);
  const dev = port.ifname;
  if (dev !== tap) ip(['-n', ns, 'link', 'set', 'dev', tap, 'name', dev]);
  if (port.kind === 'endpoint') {
    // No DAD or router solicitations: the dataplane is the only other host on this link.
    sysctl(ns, `net.ipv6.conf.${dev}.accept_dad`, '0');
    sysctl(ns, `net.ipv6.conf.${dev}.accept_ra`, '0');
  }
  ip(['-n', ns, 'link', 'set', 'dev', dev, 'up']);
  if (port.bridge) ip(['-n', ns, 'link', 'set', 'dev', dev, 'master', port.bridge]);
  for (const a of port.peerAddresses) ip(['-n', ns, 'addr', 'add', formatPrefix(a), 'dev', dev, ...(a.family === 6 ? ['nodad'] : [])]);
  if (port.kind !== 'endpoint') return;
  // Endpoints: a host address, the gateway on-link, and a
  // default route through it (the Cilium endpoint model: every packet goes to the dataplane).
  if (port.ipv4 && cfg.gateway.ipv4) {
    const gw = formatAddress(cfg.gateway.ipv4);
    ip(['-n', ns, 'addr', 'add', `${formatAddress(port.ipv4)}/32`, 'dev', dev]);
    ip(['-n', ns, 'route', 'add', gw, 'dev', dev, 'scope', 'link']);
    ip(['-n', ns, 'route', 'add', 'default', 'via', gw, 'dev', dev, 'mtu', String(port.mtu)]);
  }
  if (port.ipv6 && cfg.gateway.ipv6) {
    const gw = formatAddress(cfg.gateway.ipv6);
    ip(['-n', ns, 'addr', 'add', `${formatAddress(port.ipv6)}/128`, 'dev', dev, 'nodad']);
    ip(['-n', ns, '-6', 'route', 'add', gw, 'dev', dev]);
    ip(['-n', ns, '-6', 'route', 'add', 'default', 'via', gw, 'dev', dev, 'mtu', String(port.mtu)]);
  }
}

function sysctl(ns: string, key: string, value: string): void {
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `${key}=${value}`], { stdio: 'ignore' });
  } catch {
    // Best effort: an older kernel without the knob still works, just noisier.
  }
}

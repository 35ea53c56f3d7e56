// weft agent: load and validate the config, start the agent, stop cleanly on SIGTERM/SIGINT.
import { parse, UsageError } from './args.js';
import { loadConfig, lbModeConfig, ConfigError } from '../control/config.js';
import { startAgent } from '../control/start-agent.js';

const USAGE = `Usage: weft agent --config FILE [--store URL] [--mode node|lb]

Runs a Weft node in the current network namespace: creates the TAP ports the config
names (moving their kernel sides into their namespaces), starts one pinned worker per
queue and serves the API on the config's Unix socket (default /run/weft/<node>.sock).
SIGTERM or SIGINT stops the workers and removes the TAPs.

With a "cluster" section the node joins a cluster: it claims pod CIDRs, publishes itself in
the store, routes to every other node's pods, and serves endpoints (weft endpoint add).
With cluster.encryption: wireguard (or a "wireguard" section) the node runs a WireGuard
device, configurable with the standard tool: wg show|set <interface> (UAPI socket in
/var/run/wireguard); cluster nodes then reach each other's pods only through it (UDP 51871).
Every agent also records packets on request (weft record) and, in a cluster, applies egress
policies (weft egress).

Options:
  -c, --config FILE   node configuration (YAML)
  --mode lb           a load-balancer-only node: uplink ports only, services from the store
                      (the config's lb section, or its defaults)
  --store URL         cluster state store: dir:/path (default dir:/var/lib/weft, shared by
                      the agents on one machine) or etcd://host:port[,host:port]
  -h, --help          show this help
`;

export async function runAgentCommand(argv: string[]): Promise<number> {
  let args;
  try {
    args = parse(argv, { config: { type: 'string', short: 'c' }, store: { type: 'string' }, mode: { type: 'string' } }, USAGE);
  } catch (e) {
    process.stderr.write(`weft agent: ${(e as UsageError).message}`);
    return 2;
  }
  if (args.values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!args.values.config) {
    process.stderr.write(`weft agent: --config is required\n\n${USAGE}`);
    return 2;
  }
  const mode = args.values.mode ?? 'node';
  if (mode !== 'node' && mode !== 'lb') {
    process.stderr.write(`weft agent: --mode must be node or lb, got "${mode}"\n`);
    return 2;
  }
  let cfg;
  try {
    cfg = loadConfig(args.values.config);
    if (mode === 'lb') cfg = lbModeConfig(cfg);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`weft agent: config error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const agent = await startAgent(cfg, { storeUrl: args.values.store });
  process.stdout.write(`weft agent ${cfg.node}: ${cfg.ports.length} ports, ${cfg.workers} workers, API ${cfg.api}\n`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      process.stdout.write(`weft agent ${cfg.node}: ${sig}, stopping\n`);
      void agent.stop().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

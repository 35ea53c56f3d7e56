// weft agent: load and validate the config, start the agent, stop cleanly on SIGTERM/SIGINT.
import { UsageError } from './args.js';
import { defineCommand } from './runner.js';
import { loadConfig, lbModeConfig, ConfigError, type NodeConfig } from '../control/config.js';
import type { Agent } from '../control/agent.js';
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

/** Until SIGTERM or SIGINT, then stops the agent. */
function runUntilSignal(agent: Agent): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (sig: string): void => {
      process.stdout.write(`weft agent ${agent.cfg.node}: ${sig}, stopping\n`);
      void agent.stop().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/** The config file's, checked now: errors are the user's to fix (exit 2), one line each. */
function nodeConfig(file: string, mode: string): NodeConfig {
  try {
    const cfg = loadConfig(file);
    return mode === 'lb' ? lbModeConfig(cfg) : cfg;
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(`config error: ${e.message}`);
    throw e;
  }
}

export const agentCommand = defineCommand({
  name: 'agent',
  usage: USAGE,
  inputErrors: [ConfigError],
  options: { config: { type: 'string', short: 'c' }, store: { type: 'string' }, mode: { type: 'string' } },
  defaultVerb: '',
  verbs: {
    '': {
      options: ['config', 'store', 'mode'],
      agent: false,
      prepare: ({ values }) => {
        if (!values.config) throw new UsageError('--config is required');
        const mode = values.mode ?? 'node';
        if (mode !== 'node' && mode !== 'lb') throw new UsageError(`--mode must be node or lb, got "${mode}"`);
        const cfg = nodeConfig(values.config, mode);
        return async () => {
          const agent = await startAgent(cfg, { storeUrl: values.store });
          const ports = cfg.ports.length;
          process.stdout.write(`weft agent ${cfg.node}: ${ports} ports, ${cfg.workers} workers, API ${cfg.api}\n`);
          await runUntilSignal(agent);
        };
      },
    },
  },
});

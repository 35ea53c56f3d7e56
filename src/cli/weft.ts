#!/usr/bin/env node
// The weft command: one entry point, one small module per subcommand.
import { runAgentCommand } from './agent-command.js';
import { runStatusCommand } from './status-command.js';
import { runEndpointCommand } from './endpoint-command.js';
import { runLbCommand } from './lb-command.js';
import { runServiceCommand } from './service-command.js';
import { runRecordCommand } from './record-command.js';
import { runEgressCommand } from './egress-command.js';

const HELP = `weft — a userspace network dataplane

Usage: weft <command> [options]

Commands:
  agent --config FILE     run the node agent (TAP ports, workers, API socket)
  status [--api SOCKET]   show agent health, ports, workers, drop reasons, cluster nodes,
                          WireGuard, NAT and recorder usage
  endpoint add|list|delete  endpoints of a cluster node (namespaces with a dataplane port)
  service add|apply|list|describe|delete  load-balanced services (VIP, port → backends)
  lb maglev BACKEND...    print the Maglev table for backends (Cilium-compatible)
  record FILTER...|list|stop  n-tuple packet recordings into pcap files
  egress apply|list|delete|conntrack  egress gateway policies and NAT translations

Run "weft <command> --help" for the options of a command.
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'agent':
      return runAgentCommand(rest);
    case 'status':
      return runStatusCommand(rest);
    case 'endpoint':
      return runEndpointCommand(rest);
    case 'lb':
      return runLbCommand(rest);
    case 'service':
      return runServiceCommand(rest);
    case 'record':
      return runRecordCommand(rest);
    case 'egress':
      return runEgressCommand(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(HELP);
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`weft: unknown command "${cmd}"\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: Error) => {
    process.stderr.write(`weft: ${e.message}\n`);
    process.exitCode = 1;
  },
);

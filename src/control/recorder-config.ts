// The `recorder:` section of a node's configuration (every node has a recorder).
import { validator, type Validator } from '../wire/config-validate.js';
import { MASKS_CEILING } from '../recorder/tables.js';
import { ConfigError } from './config-error.js';

export interface RecorderConfig {
  /** Where pcap files are created (mode 0600, directory made 0700 when missing). */
  directory: string;
  /** Distinct filter masks (prefix lengths + wildcards) across running recordings. */
  maxMasks: number;
  /** Filters across running recordings (the shared filter table's capacity). */
  maxFilters: number;
  /** Capture ring per worker, bytes; a full ring loses captures (counted), never packets. */
  ringBytes: number;
}

const v: Validator = validator(ConfigError);

export function parseRecorder(x: unknown, where: string): RecorderConfig {
  const o = v.obj(x ?? {}, where);
  v.only(o, where, ['directory', 'maxMasks', 'maxFilters', 'ringBytes']);
  return {
    directory: o.directory === undefined ? '/var/lib/weft/recordings' : v.str(o.directory, `${where}.directory`),
    maxMasks: v.int(o.maxMasks, `${where}.maxMasks`, 1, MASKS_CEILING, 16),
    maxFilters: v.int(o.maxFilters, `${where}.maxFilters`, 1, 1 << 20, 16384),
    ringBytes: v.int(o.ringBytes, `${where}.ringBytes`, 4096, 1 << 30, 4 << 20),
  };
}

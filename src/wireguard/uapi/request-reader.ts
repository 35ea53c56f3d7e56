// Splits the byte stream of one UAPI connection into requests: "get=1\n\n" or "set=1\n"
// followed by key=value lines and a blank line. Everything is bounded (bytes per request,
// bytes per line, lines per request) and nothing is decoded as UTF-8, so hostile input costs
// at most the limits and ends in an error, never in a throw. After a framing error the
// stream cannot be resynchronised: the connection is answered and closed.
import { Errno, UapiError, quote } from './errors.js';

export interface ReaderLimits {
  /** Bytes of one request, op line and blank line included. */
  readonly maxRequestBytes: number;
  /** Bytes of one line without its "\n" (the longest valid line is about 80). */
  readonly maxLineBytes: number;
  /** key=value lines in one set. */
  readonly maxLines: number;
}

export const DEFAULT_READER_LIMITS: ReaderLimits = { maxRequestBytes: 8 << 20, maxLineBytes: 4096, maxLines: 200_000 };

/**
 * Bounds large enough for a `wg setconf` of a device filled to its limits (every peer with
 * all its keys, every allowed IP), and no larger: at most 8 lines per peer plus one per
 * allowed IP, about 100 bytes a line, and never more than 32 MiB.
 */
export function readerLimitsFor(device: { maxPeers: number; maxAllowedIps: number }): ReaderLimits {
  const maxLines = Math.min(16 + 8 * device.maxPeers + device.maxAllowedIps, 1 << 20);
  return {
    maxLines,
    maxLineBytes: DEFAULT_READER_LIMITS.maxLineBytes,
    maxRequestBytes: Math.min(Math.max(maxLines * 100, 1 << 16), 32 << 20),
  };
}

export type UapiRequest =
  | { readonly op: 'get' }
  | { readonly op: 'set'; readonly lines: readonly string[] }
  /** The stream is broken at this point: answer with this error and close. */
  | { readonly op: 'fatal'; readonly error: UapiError };

type State = 'op' | 'getBlank' | 'set';

const NL = 0x0a;

export class RequestReader {
  private state: State = 'op';
  private partial: Buffer[] = [];
  private partialLen = 0;
  private lines: string[] = [];
  private requestBytes = 0;
  private broken = false;

  constructor(private readonly limits: ReaderLimits = DEFAULT_READER_LIMITS) {}

  /** True between requests with nothing buffered. */
  get idle(): boolean {
    return this.state === 'op' && this.partialLen === 0 && !this.broken;
  }

  /** The requests completed by this chunk, in order; after a fatal one, nothing more. */
  push(chunk: Uint8Array): UapiRequest[] {
    const out: UapiRequest[] = [];
    if (this.broken) return out;
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let pos = 0;
    while (pos < buf.length) {
      if (this.state === 'getBlank') {
        // "get=1" must be followed by exactly an empty line.
        if (buf[pos] !== NL) return this.fail(out, Errno.EINVAL, 'get=1 must be followed by an empty line');
        pos++;
        this.requestBytes++;
        this.finishRequest();
        out.push({ op: 'get' });
        continue;
      }
      const nl = buf.indexOf(NL, pos);
      const end = nl < 0 ? buf.length : nl;
      const segLen = end - pos;
      this.requestBytes += segLen + (nl < 0 ? 0 : 1);
      if (this.requestBytes > this.limits.maxRequestBytes)
        return this.fail(out, Errno.EMSGSIZE, `request longer than ${this.limits.maxRequestBytes} bytes`);
      if (this.partialLen + segLen > this.limits.maxLineBytes)
        return this.fail(out, Errno.EMSGSIZE, `line longer than ${this.limits.maxLineBytes} bytes`);
      if (nl < 0) {
        this.partial.push(Buffer.from(buf.subarray(pos, end)));
        this.partialLen += segLen;
        break;
      }
      const line = this.takeLine(buf.subarray(pos, end));
      pos = nl + 1;
      const req = this.onLine(line);
      if (req) {
        out.push(req);
        if (req.op === 'fatal') return out;
      }
    }
    return out;
  }

  /** At end of stream: an error if a request was cut short, else null (nothing is applied from a partial set). */
  end(): UapiRequest | null {
    if (this.broken || this.idle) return null;
    this.broken = true;
    return { op: 'fatal', error: new UapiError(Errno.EPROTO, 'connection ended in the middle of a request') };
  }

  private takeLine(last: Buffer): string {
    if (this.partialLen === 0) return last.toString('latin1');
    const line = Buffer.concat([...this.partial, last]).toString('latin1');
    this.partial = [];
    this.partialLen = 0;
    return line;
  }

  private onLine(line: string): UapiRequest | null {
    if (this.state === 'op') {
      if (line === 'get=1') this.state = 'getBlank';
      else if (line === 'set=1') this.state = 'set';
      else return this.fatal(Errno.EPROTO, `unknown operation ${quote(line)} (expected get=1 or set=1)`);
      return null;
    }
    // state 'set'
    if (line === '') {
      const lines = this.lines;
      this.finishRequest();
      return { op: 'set', lines };
    }
    if (this.lines.length >= this.limits.maxLines)
      return this.fatal(Errno.EMSGSIZE, `more than ${this.limits.maxLines} lines in one set`);
    this.lines.push(line);
    return null;
  }

  private finishRequest(): void {
    this.state = 'op';
    this.lines = [];
    this.requestBytes = 0;
  }

  private fatal(errno: number, message: string): UapiRequest {
    this.broken = true;
    this.partial = [];
    this.partialLen = 0;
    this.lines = [];
    return { op: 'fatal', error: new UapiError(errno, message) };
  }

  private fail(out: UapiRequest[], errno: number, message: string): UapiRequest[] {
    out.push(this.fatal(errno, message));
    return out;
  }
}

// Errors of the configuration model and the UAPI protocol. Each carries the errno the
// socket answers with (sent negated, as wireguard-go does, so `wg` prints its strerror).

/** Linux errno values the UAPI answers use. */
export const Errno = {
  EIO: 5,
  ENOSPC: 28,
  EINVAL: 22,
  ENOANO: 55,
  EPROTO: 71,
  EMSGSIZE: 90,
  EADDRINUSE: 98,
} as const;

export class UapiError extends Error {
  /** Positive errno; the wire carries `errno=-<errno>`. */
  readonly errno: number;

  constructor(errno: number, message: string) {
    super(message);
    this.name = 'UapiError';
    this.errno = errno;
  }
}

/** Shortens untrusted text before it goes into an error message or a log line. */
export function quote(text: string, max = 80): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut);
}

import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { ConfigError } from '../errors/index.js';

/** The query parameter of a `rediss://` URL that names the CA file (REDIS_TLS_CA_FILE). */
const CA_PARAM = 'tlsCaFile';

/**
 * `rediss://host:port/db` with the CA file that signed the server's certificate, as a query
 * parameter: the Redis address keeps flowing through the code as one string (as Sentinel's
 * does), and every connection made from it trusts that CA and no other.
 */
export function withTlsCa(url: string, caFile: string | undefined): string {
  if (!caFile) return url;
  const u = new URL(url);
  u.searchParams.set(CA_PARAM, caFile);
  return u.toString();
}

/**
 * The URL ioredis gets (the CA parameter taken out) and its `tls` options: the CA's
 * certificates when the URL names a CA file; none otherwise (`rediss://` alone trusts Node's CAs).
 */
export function tlsOf(url: string): { url: string; tls?: TlsOptions } {
  if (!url.startsWith('rediss:')) return { url };
  const tls = tlsCaOf(url);
  if (!tls) return { url };
  const u = new URL(url);
  u.searchParams.delete(CA_PARAM);
  return { url: u.toString(), tls };
}

/** TLS options trusting the CA file the URL names (withTlsCa), or undefined when it names none. */
export function tlsCaOf(url: string): TlsOptions | undefined {
  const caFile = new URL(url).searchParams.get(CA_PARAM);
  return caFile ? { ca: readFileSync(caFile, 'utf8') } : undefined;
}

/** The CA file's certificates: a readable PEM file with at least one certificate, or a ConfigError naming the variable. */
export function checkCaFile(file: string): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `invalid configuration: REDIS_TLS_CA_FILE=${JSON.stringify(file)}: cannot be read (${(err as NodeJS.ErrnoException).code})`,
    );
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----'))
    throw new ConfigError(
      `invalid configuration: REDIS_TLS_CA_FILE=${JSON.stringify(file)}: holds no PEM certificate`,
    );
}

/** Node's codes for a certificate the client refuses (unknown issuer, self-signed, wrong name, expired). */
const CERT_REFUSED =
  /^(UNABLE_TO_|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH)/;

/** Whether `err` says the server's TLS certificate was not trusted: a setting to fix, not an outage. */
export function isCertificateRefused(err: unknown): err is NodeJS.ErrnoException {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && CERT_REFUSED.test(code);
}

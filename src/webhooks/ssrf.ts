import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { ValidationError } from '../errors/index.js';

/**
 * True for addresses on the public internet. Loopback, private (RFC 1918, ULA), link-local (and so
 * cloud metadata at 169.254.169.254), carrier-grade NAT, multicast, reserved and unspecified
 * addresses are not; an IPv4-mapped IPv6 address is judged as the IPv4 one it maps.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress())
    ip = (ip as ipaddr.IPv6).toIPv4Address();
  return ip.range() === 'unicast';
}

/** Checks a webhook URL's form: http(s), a host, no credentials, at most 2048 characters. */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError('the webhook URL is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ValidationError('the webhook URL must be http or https');
  if (url.username || url.password) throw new ValidationError('the webhook URL must not contain credentials');
  if (raw.length > 2048) throw new ValidationError('the webhook URL is longer than 2048 characters');
  return url;
}

/**
 * Refuses a URL whose host resolves to any non-public address, unless `allowPrivate`. Checked when
 * a webhook is registered; at each delivery `assertLiteralHost` (IP literals) and `safeLookup` (names:
 * DNS may change meanwhile) check again, as WEBHOOK_ALLOW_PRIVATE may have changed too.
 */
export async function assertWebhookUrl(raw: string, allowPrivate: boolean): Promise<URL> {
  const url = parseWebhookUrl(raw);
  if (allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = ipaddr.isValid(host)
      ? [host]
      : (await dns.promises.lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  } catch {
    throw new ValidationError("the webhook URL's host does not resolve");
  }
  if (addresses.length === 0 || !addresses.every(isPublicAddress))
    throw new ValidationError(
      'the webhook URL resolves to a loopback, private or link-local address; webhooks go to public hosts only',
    );
  return url;
}

/** The error a delivery to a non-public address fails with (matched by `code`). */
function privateAddressError(): Error {
  return Object.assign(new Error('webhook host resolves to a non-public address'), {
    code: 'VC_ERR_WEBHOOK_PRIVATE',
  });
}

/** The host of a URL whose host is an IP literal (IPv6 without brackets), else undefined. */
export function literalHost(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return ipaddr.isValid(host) ? host : undefined;
}

/**
 * Refuses, before connecting, a URL whose host is an IP literal that is not public (unless
 * `allowPrivate`): Node connects to a literal without calling `lookup`, so `safeLookup` never sees it.
 */
export function assertLiteralHost(url: URL, allowPrivate: boolean): void {
  const host = literalHost(url);
  if (host !== undefined && !allowPrivate && !isPublicAddress(host)) throw privateAddressError();
}

/** A `lookup` for http.request that refuses non-public addresses at connect time (names only). */
export function safeLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 4);
      const list = addresses as dns.LookupAddress[];
      const allowed = allowPrivate ? list : list.filter((a) => isPublicAddress(a.address));
      if (allowed.length === 0 || allowed.length !== list.length) {
        return callback(privateAddressError(), '', 4);
      }
      if (options.all)
        return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, allowed);
      callback(null, allowed[0].address, allowed[0].family);
    });
  };
}

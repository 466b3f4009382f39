import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A test CA and a server certificate it signed, plus an unrelated CA (files in `dir`). */
export interface TestPki {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A CA that signed nothing here: trusting it must fail. */
  otherCaFile: string;
  /** The CA's certificates, for a client's `tls.ca`. */
  ca: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/**
 * Makes the CAs (EC P-256, one day) and the server's certificate with openssl, in `dir`; the
 * certificate is issued for `ips` (default 127.0.0.1).
 */
export async function makeTestPki(dir: string, ips: string[] = ['127.0.0.1']): Promise<TestPki> {
  const openssl = (...args: string[]) => execFileAsync('openssl', args, { cwd: dir });
  for (const name of ['ca', 'other-ca'])
    await openssl(
      'req',
      '-x509',
      ...EC,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
    );
  await openssl('req', ...EC, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=redis.test');
  await writeFile(path.join(dir, 'san.ext'), `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}\n`);
  // biome-ignore format: flag/value pairs
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
  const caFile = path.join(dir, 'ca.pem');
  return {
    caFile,
    certFile: path.join(dir, 'server.pem'),
    keyFile: path.join(dir, 'server.key'),
    otherCaFile: path.join(dir, 'other-ca.pem'),
    ca: await readFile(caFile, 'utf8'),
  };
}

/** redis.conf lines that make a server (or sentinel) TLS only: no plain port, replication over TLS. */
export function redisTlsConf(pki: TestPki, tlsPort: number): string[] {
  return [
    'port 0',
    `tls-port ${tlsPort}`,
    `tls-cert-file ${pki.certFile}`,
    `tls-key-file ${pki.keyFile}`,
    `tls-ca-cert-file ${pki.caFile}`,
    'tls-auth-clients no',
    'tls-replication yes',
  ];
}

// Certificates for the TLS and HTTPS tests, made on the spot with the
// openssl command line tool rather than kept in the repository, so that none
// can expire.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileAsync, findCommand } from './processes.js';

/**
 * A fresh self-signed certificate for localhost and 127.0.0.1 (EC P-256,
 * valid two days) and its key, written into `dir` as tls.key and tls.crt.
 * Rejects with a message saying what to install when openssl is missing.
 */
export async function makeSelfSignedCertificate(dir: string): Promise<{ key: Buffer; cert: Buffer }> {
  const openssl = findCommand('openssl');
  if (!openssl) {
    throw new Error('The TLS tests need the `openssl` command line tool to make a certificate, and it is not on PATH. Install OpenSSL and run them again.');
  }
  const keyPath = join(dir, 'tls.key');
  const certPath = join(dir, 'tls.crt');
  await execFileAsync(openssl, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  return { key: readFileSync(keyPath), cert: readFileSync(certPath) };
}

// A registry for test-pack.js: npm installs zerocopy from it as from
// registry.npmjs.org (a registry dependency, its tarball at the
// /<name>/-/<name>-<version>.tgz address) without anything being published.
// npm treats such an install as it treats one from the real registry, not as
// a file tarball: it never counts a registry package's `prepare` among the
// scripts allowScripts covers.
//
//   node scripts/pack-registry.js UPSTREAM TARBALL
//
// Serves the package in TARBALL, and redirects every other request (other
// packages, and their tarballs when a lockfile leaves their addresses out)
// to the registry UPSTREAM. Prints its port on its first line; serves until
// killed.
'use strict';
const { execFileSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { readFileSync } = require('node:fs');
const http = require('node:http');

const [upstream, tarball] = process.argv.slice(2);
const tgz = readFileSync(tarball);
const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }));
const file = `${manifest.name}-${manifest.version}.tgz`;

/** The packument npm reads, with what the registry adds at publish time (hasInstallScript, dist). */
function packument(base) {
  const scripts = manifest.scripts ?? {};
  const version = {
    ...manifest,
    _id: `${manifest.name}@${manifest.version}`,
    hasInstallScript: scripts.preinstall || scripts.install || scripts.postinstall ? true : undefined,
    dist: {
      tarball: `${base}/${manifest.name}/-/${file}`,
      shasum: createHash('sha1').update(tgz).digest('hex'),
      integrity: `sha512-${createHash('sha512').update(tgz).digest('base64')}`,
    },
  };
  return { name: manifest.name, 'dist-tags': { latest: manifest.version }, versions: { [manifest.version]: version } };
}

const server = http.createServer((req, res) => {
  const path = decodeURIComponent(req.url.split('?')[0]);
  // Never cached by npm: each run packs a new tarball under the same name and version.
  res.setHeader('cache-control', 'no-store');
  if (path === `/${manifest.name}`) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(packument(`http://127.0.0.1:${server.address().port}`)));
  } else if (path === `/${manifest.name}/-/${file}`) {
    res.setHeader('content-type', 'application/octet-stream');
    res.end(tgz);
  } else {
    res.statusCode = 302;
    res.setHeader('location', new URL(req.url.slice(1), upstream.endsWith('/') ? upstream : `${upstream}/`).href);
    res.end();
  }
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));

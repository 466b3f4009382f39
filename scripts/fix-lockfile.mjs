// The registry mirror these machines use serves only linux-glibc builds of platform packages, so
// `npm install` leaves other platforms' optional binaries out of package-lock.json and `npm ci` then
// refuses the lock. This adds a stub entry (optional, with os/cpu) for each, which `npm ci` skips.
// Run it after every `npm install`.
import { readFileSync, writeFileSync } from 'node:fs';

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const pk = lock.packages;
let added = 0;
for (const [key, entry] of Object.entries(pk)) {
  for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const k = `node_modules/${name}`;
    if (pk[k] || pk[`${key}/node_modules/${name}`]) continue;
    const m = /-(darwin|linux|win32|android|freebsd)-(x64|arm64|arm|ia32)(-(musl|gnu|msvc))?$/.exec(name);
    const stub = { version: range.replace(/^[\^~=]/, ''), optional: true };
    if (entry.dev) stub.dev = true;
    if (m) {
      stub.os = [m[1]];
      stub.cpu = [m[2]];
      if (m[4] === 'musl') stub.libc = ['musl'];
    }
    pk[k] = stub;
    added++;
  }
}
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
console.log('added', added);

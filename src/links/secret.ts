import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The key that signs result links: RESULT_LINK_SECRET when set, else `DATA_DIR/result-link-secret`,
 * created once (mode 0600) so every API instance sharing DATA_DIR signs alike and links outlive
 * a restart. The value is never logged.
 */
export async function resultLinkSecret(configured: string | undefined, dataDir: string): Promise<Buffer> {
  if (configured) return Buffer.from(configured, 'utf8');
  const file = path.join(dataDir, 'result-link-secret');
  await mkdir(dataDir, { recursive: true });
  // Written aside, then linked into place: the name appears only with its whole content, and two
  // instances starting at once cannot both create it (the loser's link fails; it reads the winner's).
  const aside = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  await writeFile(aside, randomBytes(32).toString('base64url'), { flag: 'wx', mode: 0o600 });
  try {
    await link(aside, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(aside).catch(() => {});
  }
  const value = (await readFile(file, 'utf8')).trim();
  if (value.length < 32) throw new Error('the result link secret file is shorter than 32 characters');
  return Buffer.from(value, 'utf8');
}

import { open, rename, rm } from 'node:fs/promises';

/**
 * Write `text` to `file` readable by its owner only (0600): into `<file>.partial`, synced, then
 * renamed over `file`, so a reader never sees half of it. A failed rename leaves no partial file.
 */
export async function writePrivateFile(file: string, text: string, partialSuffix = '.partial'): Promise<void> {
  const partial = file + partialSuffix;
  const fh = await open(partial, 'w', 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(partial, file);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}

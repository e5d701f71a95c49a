// `npm run vm-images`: builds (or finds cached) the target-host images of every distro, so that CI can build
// them while the toolchain builds; the suites would otherwise build them on first use. Prints each one's time.
import { DISTROS, ensureImage } from "./image";

async function main(): Promise<void> {
  for (const distro of DISTROS) {
    const t0 = Date.now();
    const image = await ensureImage(distro, (l) => console.log(l));
    console.log(`[vm-images] ${distro}: ${image.dir} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
}

main().catch((e: unknown) => {
  console.error(`[vm-images] failed: ${(e as Error)?.message ?? String(e)}`);
  process.exit(1);
});

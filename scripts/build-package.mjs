// npm run build:package: the published build under bin/ — a clean compile of components/ and profiles/
// (tsconfig.build.json), plus the host scripts and the rendered profile next to the compiled
// profiles/commands.js, which reads them from its own directory at run time.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "bin");
const isAsset = (file) => file.endsWith(".sh") || file === "docker-pyjoules";

function compile() {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
}

function copyAssets() {
  const assets = readdirSync(join(root, "profiles")).filter(isAsset);
  for (const file of assets) copyFileSync(join(root, "profiles", file), join(out, "profiles", file));
  return assets;
}

rmSync(out, { recursive: true, force: true });
compile();
const assets = copyAssets();
chmodSync(join(out, "profiles", "render-cli.js"), 0o755);
console.error(`bin/: compiled components/ and profiles/, copied ${assets.join(", ")}`);

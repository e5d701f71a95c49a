// The directory of upstream source archives (see /work/shared/upstream/README.md) and the sha256 check of each
// archive before it is used. Small I/O helpers for build.ts; the archive table itself is data in recipe.ts.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { upstreamAbsentMessage, type Extract } from "./recipe";

export const UPSTREAM_ENV = "PYJOULES_UPSTREAM_DIR";

/** `$PYJOULES_UPSTREAM_DIR`, else `<repo>/../shared/upstream`. */
export function upstreamDir(repoRoot: string, env: NodeJS.ProcessEnv = process.env): { dir: string; fromEnv: boolean } {
  const fromEnv = !!env[UPSTREAM_ENV];
  return { dir: path.resolve(fromEnv ? env[UPSTREAM_ENV]! : path.join(repoRoot, "..", "shared", "upstream")), fromEnv };
}

/** The one-line message when the directory does not exist, else undefined. */
export function upstreamAbsent(u: { dir: string; fromEnv: boolean }): string | undefined {
  return fs.existsSync(u.dir) && fs.statSync(u.dir).isDirectory() ? undefined : upstreamAbsentMessage(u.dir, u.fromEnv);
}

export function sha256File(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** Undefined when `<dir>/<file>` exists and has the recorded sha256; else what is wrong, naming file, expected, actual. */
export function archiveProblem(dir: string, e: Pick<Extract, "file" | "sha256">): string | undefined {
  const file = path.join(dir, e.file);
  if (!fs.existsSync(file)) return `upstream archive ${file} does not exist`;
  const actual = sha256File(file);
  return actual === e.sha256 ? undefined : `sha256 mismatch for ${file}: expected ${e.sha256}, actual ${actual}`;
}

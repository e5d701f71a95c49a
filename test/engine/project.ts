// The root program as `pulumi up` runs it in a checkout: a project directory (Pulumi.yaml, index.ts) run by
// pulumi-language-nodejs with ts-node. The directory is a throwaway one whose files link to the checkout, so a
// test's stack config (Pulumi.<stack>.yaml) never lands in the repository.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { REPO_ROOT } from "../toolchain";

const LINKED = ["index.ts", "package.json", "tsconfig.json", "tsconfig.pulumi.json", "node_modules"];

/** A temp project dir of the root program; `cleanup` removes it. */
export function rootProjectDir(): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pyj-project-"));
  fs.copyFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  for (const f of LINKED) fs.symlinkSync(path.join(REPO_ROOT, f), path.join(dir, f));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

#!/usr/bin/env node
// Prints a rendered profile: npm run render-profile -- [--name NAME] [--daemon-profile P] [--extra-read-path PATH]...
//   --docker-default renders Docker's own docker-default instead (the posture baseline).
import { renderDockerDefault, renderPyJoulesProfile } from "./render";

const args = process.argv.slice(2);
const values = (flag: string) => args.flatMap((a, i) => (a === flag && args[i + 1] !== undefined ? [args[i + 1]!] : []));
const options = {
  name: values("--name")[0],
  daemonProfile: values("--daemon-profile")[0],
  extraReadPaths: values("--extra-read-path"),
};
try {
  process.stdout.write(args.includes("--docker-default") ? renderDockerDefault(options) : renderPyJoulesProfile(options));
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(2);
}

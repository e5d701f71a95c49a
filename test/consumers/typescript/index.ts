// A fresh TypeScript Pulumi project that installed the packed `pyjoules` tarball (test/integration/consumers.test.ts):
// one host from the stack config, as a user's own program would have it. With `invalid: true` it builds a host
// without connection.host instead, as an untyped input (JSON, another tool) could, to show the error a user gets.
import * as pulumi from "@pulumi/pulumi";
import { PyJoulesFleet, PyJoulesHost, type ConnectionArgs } from "pyjoules";

const config = new pulumi.Config();
const target = config.requireObject<{ host: string; port: number; user: string; hostKey: string }>("target");
const client = { remoteWriteUrl: config.require("remoteWriteUrl"), image: config.require("image") };

let verifiedProfiles: pulumi.Output<unknown> | undefined;
let attestations: pulumi.Output<unknown> | undefined;
if (config.getBoolean("invalid")) {
  new PyJoulesHost("h1", { connection: { user: target.user } as unknown as ConnectionArgs, client });
} else {
  const fleet = new PyJoulesFleet("pyjoules", {
    defaults: { connection: { user: target.user, privateKey: config.requireSecret("sshPrivateKey") }, client },
    hosts: [{ name: "vm", connection: { host: target.host, port: target.port, hostKey: target.hostKey } }],
  });
  verifiedProfiles = fleet.verifiedProfiles;
  attestations = fleet.attestations;
}
export { attestations, verifiedProfiles };

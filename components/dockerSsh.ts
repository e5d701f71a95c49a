import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join } from "node:path";

/**
 * The docker provider reaches `ssh://user@host:port` through the local OpenSSH client, so the one
 * credential and the pinned host key of the connection are turned into ssh options here.
 */

export interface DockerSshSettings {
  hostKey?: string;
  /** Bastion as user@host:port; ssh verifies its key against the user's known_hosts (ssh -J semantics). */
  proxyJump?: string;
  agentSocketPath?: string;
  /** Path of a private key file (see materializePrivateKey). */
  identityFile?: string;
  connectTimeoutS?: number;
}

export function dockerSshOpts(s: DockerSshSettings): string[] {
  const opts = ["-o", "BatchMode=yes", "-o", `ConnectTimeout=${s.connectTimeoutS ?? 15}`];
  if (s.hostKey !== undefined) {
    // Pin without writing a known_hosts file: ssh asks this command for the keys of the host it is
    // checking (%H) and gets exactly the pinned one; nothing else is trusted.
    opts.push(
      "-o", "StrictHostKeyChecking=yes",
      "-o", "UserKnownHostsFile=/dev/null",
      "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", `KnownHostsCommand=/bin/echo %H ${s.hostKey}`,
    );
  }
  if (s.proxyJump !== undefined) opts.push("-o", `ProxyJump=${s.proxyJump}`);
  if (s.agentSocketPath !== undefined) opts.push("-o", `IdentityAgent=${s.agentSocketPath}`);
  if (s.identityFile !== undefined) opts.push("-o", `IdentityFile=${s.identityFile}`, "-o", "IdentitiesOnly=yes");
  return opts;
}

/** `user@host:port`, with IPv6 literals in brackets (the form of ProxyJump and of ssh:// URLs). */
export function sshAuthority(user: string, host: string, port: number): string {
  return `${user}@${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** `ssh://user@host:port`, the docker provider's host. */
export function dockerHostUrl(user: string, host: string, port: number): string {
  return `ssh://${sshAuthority(user, host, port)}`;
}

/**
 * OpenSSH reads keys only from files. The key is written once to a private file (directory 0700, file
 * 0600) whose name is derived from the key's hash. The path handed to ssh is spelled with `~`, which ssh
 * expands itself, so the provider's inputs are the same on every machine and for every user (a preview
 * in CI and an `up` from a laptop show no change). PULUMI_PYJOULES_SSH_DIR overrides the directory (then
 * the absolute path is used).
 */
export function materializePrivateKey(privateKey: string): string {
  const override = process.env.PULUMI_PYJOULES_SSH_DIR;
  const dir = override ?? join(homedir(), ".pulumi-pyjoules", "ssh");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const text = privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`;
  const file = join(dir, `id-${createHash("sha256").update(text).digest("hex").slice(0, 16)}`);
  let current: string | undefined;
  try {
    current = readFileSync(file, "utf8");
  } catch {
    current = undefined;
  }
  if (current !== text) writeFileSync(file, text, { mode: 0o600 });
  chmodSync(file, 0o600);
  return override === undefined ? `~/.pulumi-pyjoules/ssh/${basename(file)}` : file;
}

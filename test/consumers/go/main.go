// A Go Pulumi program on the SDK `pulumi package add` generates (test/integration/consumers.test.ts): one host
// from the stack config. With `invalid: true` the host has no connection.host, to show the error a user gets.
package main

import (
	"example.com/pulumi-pyjoules/sdk/go/pyjoules"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg := config.New(ctx, "")
		connection := pyjoules.ConnectionArgs{
			User:       pulumi.String("deploy"),
			PrivateKey: cfg.RequireSecret("sshPrivateKey"),
			HostKey:    pulumi.String(cfg.Require("hostKey")),
		}
		if !cfg.GetBool("invalid") {
			connection.Host = pulumi.String(cfg.Require("host"))
		}
		host, err := pyjoules.NewPyJoulesHost(ctx, "h1", &pyjoules.PyJoulesHostArgs{
			Connection: connection,
			Client:     pyjoules.ClientArgs{RemoteWriteUrl: pulumi.String(cfg.Require("remoteWriteUrl"))},
		})
		if err != nil {
			return err
		}
		ctx.Export("containerName", host.ContainerName)
		ctx.Export("verifiedProfile", host.VerifiedProfile)
		return nil
	})
}

// The stack program: a PyJoulesFleet built from this stack's config (see Pulumi.example.yaml).
import { stackProgram } from "./components/stack";

const { verifiedProfiles, attestations } = stackProgram();
export { verifiedProfiles, attestations };

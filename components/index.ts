/**
 * pulumi-pyjoules: put the pyJoules energy-metrics client on Linux hosts under a verified AppArmor profile,
 * without --privileged.
 */
export { AppArmorProfile, AppArmorProfileArgs } from "./appArmorProfile";
export { PyJoulesHost, PyJoulesHostArgs } from "./pyJoulesHost";
export {
  PyJoulesFleet,
  PyJoulesFleetArgs,
  FleetHostArgs,
  FleetDefaultsArgs,
  FleetClientDefaultsArgs,
  FleetConnectionDefaultsArgs,
} from "./pyJoulesFleet";
export * from "./types";
export { renderPyJoulesProfile, renderDockerDefault, DEFAULT_PROFILE_NAME } from "../profiles/render";

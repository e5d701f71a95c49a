// SPDX-License-Identifier: GPL-2.0
/*
 * fake_rapl: a test-only powercap tree for VMs without RAPL hardware (QEMU TCG).
 * Registers control type "intel-rapl" with one zone "package-0" whose energy_uj
 * grows with time (a steady fake 10 W), so /sys/class/powercap/intel-rapl:0
 * looks like the real intel_rapl tree (energy_uj is 0400 root, as since 5.10).
 */
#include <linux/module.h>
#include <linux/err.h>
#include <linux/ktime.h>
#include <linux/powercap.h>

#define FAKE_MAX_ENERGY_UJ 262143328850ULL	/* a typical RAPL wrap range */
#define FAKE_UJ_PER_US 10ULL			/* 10 W */

static struct powercap_control_type *fake_type;
static struct powercap_zone *fake_zone;
static ktime_t fake_t0;
static u64 fake_limit_uw = 15000000, fake_window_us = 976;

static int fake_get_energy_uj(struct powercap_zone *z, u64 *v)
{
	*v = (ktime_to_us(ktime_sub(ktime_get(), fake_t0)) * FAKE_UJ_PER_US) % FAKE_MAX_ENERGY_UJ;
	return 0;
}
static int fake_get_max_energy_range_uj(struct powercap_zone *z, u64 *v) { *v = FAKE_MAX_ENERGY_UJ; return 0; }
static int fake_get_enable(struct powercap_zone *z, bool *mode) { *mode = true; return 0; }
static int fake_release(struct powercap_zone *z) { return 0; }

static int fake_set_limit(struct powercap_zone *z, int c, u64 v) { fake_limit_uw = v; return 0; }
static int fake_get_limit(struct powercap_zone *z, int c, u64 *v) { *v = fake_limit_uw; return 0; }
static int fake_set_window(struct powercap_zone *z, int c, u64 v) { fake_window_us = v; return 0; }
static int fake_get_window(struct powercap_zone *z, int c, u64 *v) { *v = fake_window_us; return 0; }
static const char *fake_get_name(struct powercap_zone *z, int c) { return "long_term"; }

static const struct powercap_zone_ops fake_zone_ops = {
	.get_energy_uj = fake_get_energy_uj,
	.get_max_energy_range_uj = fake_get_max_energy_range_uj,
	.get_enable = fake_get_enable,
	.release = fake_release,
};

static const struct powercap_zone_constraint_ops fake_constraint_ops = {
	.set_power_limit_uw = fake_set_limit,
	.get_power_limit_uw = fake_get_limit,
	.set_time_window_us = fake_set_window,
	.get_time_window_us = fake_get_window,
	.get_name = fake_get_name,
};

static int __init fake_rapl_init(void)
{
	fake_t0 = ktime_get();
	fake_type = powercap_register_control_type(NULL, "intel-rapl", NULL);
	if (IS_ERR(fake_type))
		return PTR_ERR(fake_type);
	fake_zone = powercap_register_zone(NULL, fake_type, "package-0", NULL,
					   &fake_zone_ops, 1, &fake_constraint_ops);
	if (IS_ERR(fake_zone)) {
		powercap_unregister_control_type(fake_type);
		return PTR_ERR(fake_zone);
	}
	return 0;
}

static void __exit fake_rapl_exit(void)
{
	powercap_unregister_zone(fake_type, fake_zone);
	powercap_unregister_control_type(fake_type);
}

module_init(fake_rapl_init);
module_exit(fake_rapl_exit);
MODULE_DESCRIPTION("Fake intel-rapl powercap zone for test VMs");
MODULE_LICENSE("GPL");

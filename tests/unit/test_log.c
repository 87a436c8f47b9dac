/* util/log: UTC broken-down time computed without the time zone, checked
 * against gmtime_r over leap days, century years and times before 1970. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "util/log.h"

static void assert_same_as_gmtime(time_t t)
{
	struct tm want, got;

	assert_non_null(gmtime_r(&t, &want));
	berth_utc_time(t, &got);
	if (got.tm_year != want.tm_year || got.tm_mon != want.tm_mon || got.tm_mday != want.tm_mday ||
	    got.tm_hour != want.tm_hour || got.tm_min != want.tm_min || got.tm_sec != want.tm_sec ||
	    got.tm_wday != want.tm_wday || got.tm_yday != want.tm_yday)
		fail_msg("%lld: got %d-%d-%d %d:%d:%d wday %d yday %d, want %d-%d-%d %d:%d:%d wday %d yday %d",
			 (long long)t, got.tm_year, got.tm_mon, got.tm_mday, got.tm_hour, got.tm_min, got.tm_sec,
			 got.tm_wday, got.tm_yday, want.tm_year, want.tm_mon, want.tm_mday, want.tm_hour, want.tm_min,
			 want.tm_sec, want.tm_wday, want.tm_yday);
}

static void test_utc_time_matches_gmtime(void **state)
{
	static const time_t fixed[] = {
		0,
		-1,
		59,
		86399,
		86400,
		951782400 /* 2000-02-29 */,
		951868800,
		4107456000 /* 2100-02-28 */,
		4107542400,
		1709164800 /* 2024-02-29 */,
		-2208988800 /* 1900-01-01 */,
		-62135596800LL /* 0001-01-01 */,
		253402300799LL /* 9999-12-31 */,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		assert_same_as_gmtime(fixed[i]);
	/* 1600 to 2400, a day and an hour apart: every month, at every hour */
	for (int64_t t = -11676096000LL; t < 13569465600LL; t += 86400 + 3607)
		assert_same_as_gmtime((time_t)t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utc_time_matches_gmtime),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

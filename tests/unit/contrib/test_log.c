/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for contrib/log: the JSON and text line formats, escaping of
 * hostile values (newlines, quotes, control bytes, broken UTF-8), the key
 * order, truncation, and the log file with its reopen after a move. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "contrib/log.h"

/* 2026-12-04T08:10:00.042Z */
#define T0 1796371800042LL

/* Exactly one line: one '\n', at the end. */
static void
assert_one_line(const char *buf, size_t n)
{
	assert_true(n > 0);
	assert_int_equal(buf[n - 1], '\n');
	assert_null(memchr(buf, '\n', n - 1));
	assert_null(memchr(buf, '\r', n));
}

static json_t *
parse_line(const char *buf, size_t n)
{
	json_error_t je;
	json_t *j;

	assert_one_line(buf, n);
	j = json_loadb(buf, n - 1, 0, &je);
	if (j == NULL)
		fail_msg("not JSON (%s): %.*s", je.text, (int)n, buf);
	assert_true(json_is_object(j));
	return j;
}

static void
test_json_keys_and_order(void **state)
{
	char buf[4096];
	size_t n;
	json_t *j;
	const char *k;
	json_t *v;
	const char *want[] = {"time", "level", "event", "order", "account",
	    "connector", "duration_ms", "extra", "msg"};
	size_t i = 0;

	(void)state;
	/* given out of order: the well-known keys come first */
	n = log_format_line(buf, sizeof(buf), 1, T0, LOG_LVL_INFO,
	    "order.issued",
	    (struct log_kv[]){LOG_S("extra", "x"), LOG_I("duration_ms", 1234),
	        LOG_S("connector", "main"), LOG_S("order", "oid1"),
	        LOG_S("account", "acct1"), LOG_S("missing", NULL), LOG_END},
	    "certificate issued");
	j = parse_line(buf, n);
	assert_string_equal(json_string_value(json_object_get(j, "time")),
	    "2026-12-04T08:10:00.042Z");
	assert_string_equal(
	    json_string_value(json_object_get(j, "level")), "info");
	assert_string_equal(
	    json_string_value(json_object_get(j, "event")), "order.issued");
	assert_int_equal(
	    json_integer_value(json_object_get(j, "duration_ms")), 1234);
	assert_string_equal(
	    json_string_value(json_object_get(j, "msg")), "certificate issued");
	assert_null(json_object_get(j, "missing"));
	/* the order on the line (jansson keeps insertion order) */
	json_object_foreach(j, k, v) {
		assert_true(i < sizeof(want) / sizeof(want[0]));
		assert_string_equal(k, want[i]);
		i++;
	}
	assert_int_equal(i, sizeof(want) / sizeof(want[0]));
	json_decref(j);
}

static void
test_json_escaping(void **state)
{
	/* a newline that would fake a second event, quotes, a backslash,
	 * control bytes, DEL, an invalid byte, a truncated sequence, an
	 * overlong '/', a surrogate, and valid multi-byte text */
	const char *evil =
	    "a\n{\"event\":\"fake\"}\r\t\"\\\x01\x1f\x7f"
	    "\xff|\xc3|\xc0\xaf|\xed\xa0\x80|caf\xc3\xa9 \xe2\x82\xac";
	const char *want = "a\n{\"event\":\"fake\"}\r\t\"\\\x01\x1f\x7f"
	                   "\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
	                   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|caf\xc3\xa9 "
	                   "\xe2\x82\xac";
	char buf[4096];
	size_t n;
	json_t *j;

	(void)state;
	n = log_format_line(buf, sizeof(buf), 1, T0, LOG_LVL_WARN, "scm.enroll",
	    (struct log_kv[]){LOG_S("error", evil), LOG_END}, evil);
	j = parse_line(buf, n);
	assert_string_equal(json_string_value(json_object_get(j, "msg")), want);
	assert_string_equal(
	    json_string_value(json_object_get(j, "error")), want);
	assert_null(json_object_get(j, "fake"));
	json_decref(j);
	/* log_msg's lines: event "log" */
	n = log_format_line(
	    buf, sizeof(buf), 1, T0, LOG_LVL_ERR, NULL, NULL, "plain");
	j = parse_line(buf, n);
	assert_string_equal(
	    json_string_value(json_object_get(j, "event")), "log");
	assert_string_equal(
	    json_string_value(json_object_get(j, "level")), "err");
	json_decref(j);
}

static void
test_json_truncation(void **state)
{
	char big[3000], buf[512];
	size_t n;
	json_t *j;

	(void)state;
	/* every byte escapes to six: the line is cut, still one object */
	memset(big, '\x01', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = log_format_line(buf, sizeof(buf), 1, T0, LOG_LVL_INFO, "x.y",
	    (struct log_kv[]){LOG_S("order", "o1"), LOG_S("big", big), LOG_END},
	    big);
	assert_true(n <= sizeof(buf));
	j = parse_line(buf, n);
	assert_string_equal(
	    json_string_value(json_object_get(j, "order")), "o1");
	/* the key that did not fit is left out whole, the sentence cut */
	assert_null(json_object_get(j, "big"));
	assert_non_null(json_string_value(json_object_get(j, "msg")));
	json_decref(j);
}

/* Every buffer length and key length: always one well-formed object. */
static void
test_json_every_cut(void **state)
{
	char val[300], buf[400];

	(void)state;
	for (size_t vl = 0; vl < sizeof(val); vl += 7) {
		memset(val, 'v', vl);
		val[vl] = '\0';
		for (size_t len = 128; len <= sizeof(buf); len++) {
			size_t n = log_format_line(buf, len, 1, T0,
			    LOG_LVL_INFO, "e.v",
			    (struct log_kv[]){LOG_S("order", val),
			        LOG_S("k", "\n\n"), LOG_END},
			    "sentence \x01 end");
			json_t *j;

			assert_true(n <= len);
			j = parse_line(buf, n);
			assert_non_null(json_object_get(j, "msg"));
			json_decref(j);
		}
	}
}

static void
test_text_format(void **state)
{
	char buf[4096];
	size_t n;

	(void)state;
	n = log_format_line(buf, sizeof(buf), 0, T0, LOG_LVL_NOTICE,
	    "order.issued",
	    (struct log_kv[]){LOG_S("connector", "main"), LOG_S("order", "o1"),
	        LOG_I("duration_ms", 7), LOG_S("name", "a b\n\"c\"=\\"),
	        LOG_END},
	    "issued\nfake line");
	assert_one_line(buf, n);
	buf[n - 1] = '\0';
	assert_string_equal(buf,
	    "2026-12-04T08:10:00.042Z notice: issued\\nfake line "
	    "event=order.issued order=o1 connector=main duration_ms=7 "
	    "name=\"a b\\n\\\"c\\\"=\\\\\"");
	/* a log_msg line is today's line; bad bytes become \xNN */
	n = log_format_line(buf, sizeof(buf), 0, T0, LOG_LVL_INFO, NULL, NULL,
	    "x\x01y\xffz\x1b[31m");
	assert_one_line(buf, n);
	buf[n - 1] = '\0';
	assert_string_equal(
	    buf, "2026-12-04T08:10:00.042Z info: x\\x01y\\xffz\\x1b[31m");
}

static size_t
slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

static void
test_file_and_reopen(void **state)
{
	char dir[] = "/tmp/test_log.XXXXXX", path[128], moved[128];
	char buf[8192];
	struct stat st;
	json_t *j;

	(void)state;
	assert_non_null(mkdtemp(dir));
	umask(077); /* the daemon's: 0640 all the same */
	snprintf(path, sizeof(path), "%s/bridge.log", dir);
	snprintf(moved, sizeof(moved), "%s/bridge.log.1", dir);
	assert_int_equal(log_set_file(path), 0);
	log_set_json(1);
	log_event(LOG_LVL_NOTICE, "server.start", NULL, "first");
	assert_int_equal(stat(path, &st), 0);
	/* owner writes, the group (a log shipper) reads, others nothing */
	assert_int_equal(st.st_mode & 0777, 0640);
	/* logrotate: move, then reopen */
	assert_int_equal(rename(path, moved), 0);
	log_event(LOG_LVL_NOTICE, "x.before", NULL, "into the moved file");
	assert_int_equal(log_reopen(), 0);
	log_event(LOG_LVL_NOTICE, "x.after", NULL, "into the new file");
	log_set_file(NULL);
	log_set_json(0);
	slurp(moved, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"event\":\"server.start\""));
	assert_non_null(strstr(buf, "\"event\":\"x.before\""));
	assert_null(strstr(buf, "x.after"));
	slurp(path, buf, sizeof(buf));
	j = parse_line(buf, strlen(buf));
	assert_string_equal(
	    json_string_value(json_object_get(j, "event")), "x.after");
	json_decref(j);
	/* a file that cannot be opened: an error, stderr stays */
	snprintf(path, sizeof(path), "%s/no/such/dir", dir);
	assert_true(log_set_file(path) < 0);
	unlink(moved);
	snprintf(path, sizeof(path), "%s/bridge.log", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_keys_and_order),
	    cmocka_unit_test(test_json_escaping),
	    cmocka_unit_test(test_json_truncation),
	    cmocka_unit_test(test_json_every_cut),
	    cmocka_unit_test(test_text_format),
	    cmocka_unit_test(test_file_and_reopen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for proxy/notify: the sd_notify messages as a service manager
 * receives them on its datagram socket, and the watchdog timer (pings at
 * half WATCHDOG_USEC, none when WATCHDOG_PID names another process). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "proxy/notify.h"

struct mgr {
	int fd;
	char path[108];
	char dir[64];
};

/* The manager's end: a datagram socket that NOTIFY_SOCKET names. */
static int
setup(void **state)
{
	struct mgr *m = calloc(1, sizeof(*m));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	assert_non_null(m);
	snprintf(m->dir, sizeof(m->dir), "/tmp/ab-notify.XXXXXX");
	assert_non_null(mkdtemp(m->dir));
	snprintf(m->path, sizeof(m->path), "%s/notify.sock", m->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", m->path);
	m->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(m->fd >= 0);
	assert_int_equal(bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", m->path, 1);
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	*state = m;
	return 0;
}

static int
teardown(void **state)
{
	struct mgr *m = *state;

	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	close(m->fd);
	unlink(m->path);
	rmdir(m->dir);
	free(m);
	return 0;
}

/* The next message within ms, or "" when none came. */
static void
recv_msg(struct mgr *m, int ms, char *buf, size_t len)
{
	struct pollfd p = {.fd = m->fd, .events = POLLIN};
	ssize_t n;

	buf[0] = '\0';
	if (poll(&p, 1, ms) != 1)
		return;
	n = recv(m->fd, buf, len - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
}

/* Messages queued so far that contain what. */
static int
count_msgs(struct mgr *m, const char *what)
{
	char buf[512];
	int n = 0;

	for (;;) {
		recv_msg(m, 0, buf, sizeof(buf));
		if (buf[0] == '\0')
			return n;
		if (strstr(buf, what) != NULL)
			n++;
	}
}

static void
test_ready_reloading_stopping(void **state)
{
	struct mgr *m = *state;
	char buf[512];

	px_notify_ready("serving on %s:%d", "127.0.0.1", 8443);
	recv_msg(m, 1000, buf, sizeof(buf));
	assert_string_equal(buf, "READY=1\nSTATUS=serving on 127.0.0.1:8443");

	px_notify_reloading();
	recv_msg(m, 1000, buf, sizeof(buf));
	assert_non_null(strstr(buf, "RELOADING=1\n"));
	assert_non_null(strstr(buf, "\nMONOTONIC_USEC="));
	assert_true(atoll(strstr(buf, "MONOTONIC_USEC=") + 15) > 0);

	px_notify_stopping();
	recv_msg(m, 1000, buf, sizeof(buf));
	assert_non_null(strstr(buf, "STOPPING=1"));
}

static void
stop_loop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Run base for ms milliseconds. */
static void
run_for(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	struct event *ev = evtimer_new(base, stop_loop, base);

	assert_non_null(ev);
	evtimer_add(ev, &tv);
	event_base_dispatch(base);
	event_free(ev);
}

static void
test_watchdog_pings(void **state)
{
	struct mgr *m = *state;
	struct event_base *base = event_base_new();
	char pid[32];
	int n;

	assert_non_null(base);
	/* 200 ms: a ping at once, then every 100 ms */
	setenv("WATCHDOG_USEC", "200000", 1);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	assert_int_equal(px_notify_watchdog_start(base), 0);
	run_for(base, 450);
	n = count_msgs(m, "WATCHDOG=1");
	/* 5 on time; a loaded machine may fire a timer late */
	assert_true(n >= 3 && n <= 6);
	/* stopped: no more pings */
	px_notify_watchdog_stop();
	px_notify_watchdog_stop();
	run_for(base, 250);
	assert_int_equal(count_msgs(m, "WATCHDOG=1"), 0);
	event_base_free(base);
}

static void
test_watchdog_other_pid(void **state)
{
	struct mgr *m = *state;
	struct event_base *base = event_base_new();

	assert_non_null(base);
	/* the manager watches another process (e.g. this one's parent) */
	setenv("WATCHDOG_USEC", "200000", 1);
	setenv("WATCHDOG_PID", "1", 1);
	assert_int_equal(px_notify_watchdog_start(base), 0);
	run_for(base, 300);
	assert_int_equal(count_msgs(m, "WATCHDOG=1"), 0);
	px_notify_watchdog_stop();
	/* no WATCHDOG_USEC: no watchdog */
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	assert_int_equal(px_notify_watchdog_start(base), 0);
	run_for(base, 150);
	assert_int_equal(count_msgs(m, "WATCHDOG=1"), 0);
	px_notify_watchdog_stop();
	event_base_free(base);
}

static void
test_no_socket_is_quiet(void **state)
{
	(void)state;
	/* not under a service manager: every call does nothing */
	unsetenv("NOTIFY_SOCKET");
	px_notify_ready("x");
	px_notify_reloading();
	px_notify_stopping();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_ready_reloading_stopping, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_watchdog_pings, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_watchdog_other_pid, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_no_socket_is_quiet, setup, teardown),
	};

#ifndef HAVE_SYSTEMD
	/* built without libsystemd the calls are no-ops: nothing to test */
	(void)tests;
	printf("# SKIP: built without libsystemd (ENABLE_SYSTEMD=OFF)\n");
	return 77;
#else
	return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "exec" DNS connector: runs an operator's program, lego's convention:
 *
 *   PROGRAM present FQDN VALUE
 *   PROGRAM cleanup FQDN VALUE
 *
 * FQDN ends with a dot; VALUE is the TXT string (unquoted) or the CNAME
 * target. The environment is empty but for PATH, the variables named in
 * "pass_env", ACMEBRIDGE_TYPE (TXT|CNAME), ACMEBRIDGE_ZONE (with the final
 * dot) and ACMEBRIDGE_TTL. Exit 0: done; exit 2: refused, do not retry;
 * any other status (127: it could not be started), a signal or
 * running past timeout_seconds (the whole process group is killed): try
 * again later. The program dies with the bridge (PR_SET_PDEATHSIG). What the program prints goes
 * to the log, one line each, at most 4 KiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "contrib/clock.h"
#include "contrib/log.h"
#include "dns/connector.h"

#define OUT_MAX 4096
#define ENV_MAX 32

struct xconn {
	char *name; /* for messages */
	char *program;
	char *pass[ENV_MAX]; /* "NAME=value" captured at start-up */
	size_t npass;
	int timeout_s;
};

static const char *const exec_keys[] = {"program", "pass_env", NULL};

static void *
x_create(const json_t *conf, const char *prefix, int need_secrets,
    int timeout_s, char *err, size_t errlen)
{
	const char *prog = json_string_value(json_object_get(conf, "program"));
	json_t *pe = json_object_get(conf, "pass_env");
	struct xconn *x;
	struct stat st;

	(void)need_secrets;
	if (prog == NULL || prog[0] != '/') {
		snprintf(err, errlen,
		    "config: %sprogram: required: the absolute path of the "
		    "program to run",
		    prefix);
		return NULL;
	}
	if (stat(prog, &st) != 0 || !S_ISREG(st.st_mode) ||
	    access(prog, X_OK) != 0) {
		snprintf(err, errlen,
		    "config: %sprogram: %s is not an executable file", prefix,
		    prog);
		return NULL;
	}
	if (pe != NULL &&
	    (!json_is_array(pe) || json_array_size(pe) > ENV_MAX)) {
		snprintf(err, errlen,
		    "config: %spass_env: must be an array of at most %d "
		    "variable names",
		    prefix, ENV_MAX);
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->program = strdup(prog);
	x->name = strdup(json_string_value(json_object_get(conf, "name")));
	x->timeout_s = timeout_s;
	for (size_t i = 0; i < json_array_size(pe); i++) {
		const char *n = json_string_value(json_array_get(pe, i));
		const char *v;
		if (n == NULL || *n == '\0' || strchr(n, '=') != NULL) {
			snprintf(err, errlen,
			    "config: %spass_env[%zu]: must be a variable "
			    "name",
			    prefix, i);
			goto fail;
		}
		if ((v = getenv(n)) == NULL)
			continue; /* unset: not passed */
		if (asprintf(&x->pass[x->npass], "%s=%s", n, v) < 0)
			goto fail;
		x->npass++;
	}
	return x;
fail:
	for (size_t i = 0; i < x->npass; i++)
		free(x->pass[i]);
	free(x->program);
	free(x->name);
	free(x);
	return NULL;
}

static void
x_destroy(void *impl)
{
	struct xconn *x = impl;

	for (size_t i = 0; i < x->npass; i++) {
		explicit_bzero(x->pass[i], strlen(x->pass[i]));
		free(x->pass[i]);
	}
	free(x->program);
	free(x->name);
	free(x);
}

/* Log what the program printed, one line each. */
static void
log_output(const struct xconn *x, char *out, size_t n)
{
	char *line = out, *nl;

	out[n] = '\0';
	while (*line != '\0') {
		nl = strchr(line, '\n');
		if (nl != NULL)
			*nl = '\0';
		for (char *p = line; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
		if (*line != '\0')
			log_info("dns exec %s: %s", x->name, line);
		if (nl == NULL)
			break;
		line = nl + 1;
	}
}

/* Run the program with argv; fill o from how it ended. */
static void
run(struct xconn *x, char *const argv[], const struct dns_record *r,
    struct dns_outcome *o)
{
	char path[] = "PATH=/usr/local/bin:/usr/bin:/bin";
	char type[32], zone[300], ttl[32], out[OUT_MAX + 1];
	char *envp[ENV_MAX + 5];
	pid_t parent;
	long long deadline = clock_mono_ms() + (long long)x->timeout_s * 1000;
	size_t ne = 0, n = 0;
	int fds[2], st = 0, timed_out = 0, rc;
	pid_t pid;

	envp[ne++] = path;
	for (size_t i = 0; i < x->npass; i++)
		envp[ne++] = x->pass[i];
	snprintf(type, sizeof(type), "ACMEBRIDGE_TYPE=%s", dns_rr_str(r->type));
	snprintf(zone, sizeof(zone), "ACMEBRIDGE_ZONE=%s.", r->zone);
	snprintf(ttl, sizeof(ttl), "ACMEBRIDGE_TTL=%d", r->ttl);
	envp[ne++] = type;
	envp[ne++] = zone;
	envp[ne++] = ttl;
	envp[ne] = NULL;

	if (pipe2(fds, O_CLOEXEC) != 0) {
		dns_fail(o, DNS_TEMP, "dns connector %s: pipe: %s", x->name,
		    strerror(errno));
		return;
	}
	/* fork, not posix_spawn: the child asks to be killed when the
	 * bridge dies (a kill -9 must not leave a hook running that publishes
	 * a record after the restarted bridge cleaned up). Only
	 * async-signal-safe calls between fork and exec. */
	parent = getpid();
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (devnull < 0 || dup2(devnull, 0) < 0 ||
		    dup2(fds[1], 1) < 0 || dup2(fds[1], 2) < 0)
			_exit(127);
		execve(x->program, argv, envp);
		_exit(127);
	}
	rc = pid < 0 ? errno : 0;
	close(fds[1]);
	if (rc != 0) {
		close(fds[0]);
		dns_fail(o, DNS_PERM, "dns connector %s: cannot run %s: %s",
		    x->name, x->program, strerror(rc));
		return;
	}
	for (;;) {
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		long long left = deadline - clock_mono_ms();
		char buf[1024];
		ssize_t got;

		if (left <= 0) {
			timed_out = 1;
			break;
		}
		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			break;
		if (p.revents == 0)
			continue;
		got = read(fds[0], buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break; /* EOF: the program closed its output */
		if (n < OUT_MAX) {
			size_t take = (size_t)got < OUT_MAX - n ? (size_t)got
			                                        : OUT_MAX - n;
			memcpy(out + n, buf, take);
			n += take;
		}
	}
	close(fds[0]);
	if (timed_out)
		kill(-pid, SIGKILL);
	/* After EOF the program is exiting; wait for it within the bound. */
	while (!timed_out) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			break;
		if (clock_mono_ms() >= deadline) {
			timed_out = 1;
			kill(-pid, SIGKILL);
			break;
		}
		usleep(10000);
	}
	if (timed_out)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	log_output(x, out, n);
	if (timed_out)
		dns_fail(o, DNS_TEMP,
		    "dns connector %s: %s did not finish within %d s "
		    "(timeout_seconds); killed",
		    x->name, x->program, x->timeout_s);
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		o->rc = DNS_OK;
	else if (WIFEXITED(st))
		dns_fail(o, WEXITSTATUS(st) == 2 ? DNS_PERM : DNS_TEMP,
		    "dns connector %s: %s %s exited with status %d (see the "
		    "log for its output)",
		    x->name, x->program, argv[1], WEXITSTATUS(st));
	else
		dns_fail(o, DNS_TEMP,
		    "dns connector %s: %s %s killed by "
		    "signal %d",
		    x->name, x->program, argv[1],
		    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void
x_change(void *impl, const struct dns_record *r, const char *verb,
    struct dns_outcome *o)
{
	struct xconn *x = impl;
	char fqdn[300], value[300];
	char *argv[] = {x->program, (char *)verb, fqdn, value, NULL};

	snprintf(fqdn, sizeof(fqdn), "%s.", r->name);
	if (r->type == DNS_RR_CNAME)
		snprintf(value, sizeof(value), "%s.", r->value);
	else
		snprintf(value, sizeof(value), "%s", r->value);
	run(x, argv, r, o);
}

static void
x_present(void *impl, const struct dns_record *r, struct dns_outcome *o)
{
	x_change(impl, r, "present", o);
}

static void
x_cleanup(void *impl, const struct dns_record *r, const char *handle,
    struct dns_outcome *o)
{
	(void)handle;
	x_change(impl, r, "cleanup", o);
}

static void
x_check(void *impl, const char *zone, struct dns_outcome *o)
{
	struct xconn *x = impl;

	(void)zone;
	if (access(x->program, X_OK) != 0)
		dns_fail(o, DNS_PERM, "dns connector %s: %s: %s", x->name,
		    x->program, strerror(errno));
	else
		o->rc = DNS_OK;
}

const struct dns_connector_ops dns_conn_exec = {
    .type = "exec",
    .keys = exec_keys,
    .create = x_create,
    .destroy = x_destroy,
    .present = x_present,
    .cleanup = x_cleanup,
    .list = NULL,
    .check = x_check,
};

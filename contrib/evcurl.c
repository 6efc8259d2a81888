/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libcurl multi socket API on libevent: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION) and when to time out (CURLMOPT_TIMERFUNCTION);
 * libevent tells curl when they are ready (curl_multi_socket_action).
 */
#include "contrib/evcurl.h"

#include <stdlib.h>
#include <string.h>

#include "contrib/log.h"

struct xfer {
	CURL *easy;
	evcurl_done_cb *cb;
	void *arg;
	struct xfer *next;
};

struct evcurl {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	struct xfer *xfers;
	int running;
};

struct sock {
	struct event *ev;
	struct evcurl *ec;
};

static void check_done(struct evcurl *ec);

static struct xfer *
xfer_take(struct evcurl *ec, CURL *easy)
{
	struct xfer **pp, *x;

	for (pp = &ec->xfers; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->easy == easy) {
			x = *pp;
			*pp = x->next;
			return x;
		}
	}
	return NULL;
}

static void
check_done(struct evcurl *ec)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(ec->multi, &left)) != NULL) {
		struct xfer *x;
		CURL *easy;
		CURLcode rc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		easy = msg->easy_handle;
		rc = msg->data.result;
		curl_multi_remove_handle(ec->multi, easy);
		x = xfer_take(ec, easy);
		if (x != NULL) {
			evcurl_done_cb *cb = x->cb;
			void *arg = x->arg;
			free(x);
			cb(easy, rc, arg);
		}
	}
}

static void
on_event(evutil_socket_t fd, short what, void *arg)
{
	struct evcurl *ec = arg;
	int flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(ec->multi, fd, flags, &ec->running);
	/* a completion callback may start a new transfer, which arms the
	 * timer through on_timer_change: leave the timer to curl */
	check_done(ec);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct evcurl *ec = arg;

	(void)fd;
	(void)what;
	curl_multi_socket_action(
	    ec->multi, CURL_SOCKET_TIMEOUT, 0, &ec->running);
	check_done(ec);
}

static int
on_timer_change(CURLM *multi, long timeout_ms, void *arg)
{
	struct evcurl *ec = arg;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(ec->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(ec->timer, &tv);
	return 0;
}

static int
on_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
	struct evcurl *ec = arg;
	struct sock *sk = sockp;
	short kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (sk != NULL) {
			event_free(sk->ev);
			free(sk);
		}
		curl_multi_assign(ec->multi, s, NULL);
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (sk == NULL) {
		sk = calloc(1, sizeof(*sk));
		if (sk == NULL)
			return -1;
		sk->ec = ec;
		curl_multi_assign(ec->multi, s, sk);
	} else {
		event_free(sk->ev);
	}
	sk->ev = event_new(ec->base, s, kind, on_event, ec);
	if (sk->ev == NULL)
		return -1;
	event_add(sk->ev, NULL);
	return 0;
}

struct evcurl *
evcurl_new(struct event_base *base)
{
	struct evcurl *ec = calloc(1, sizeof(*ec));

	if (ec == NULL)
		return NULL;
	ec->base = base;
	ec->multi = curl_multi_init();
	ec->timer = evtimer_new(base, on_timeout, ec);
	if (ec->multi == NULL || ec->timer == NULL) {
		evcurl_free(ec);
		return NULL;
	}
	curl_multi_setopt(ec->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(ec->multi, CURLMOPT_SOCKETDATA, ec);
	curl_multi_setopt(ec->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
	curl_multi_setopt(ec->multi, CURLMOPT_TIMERDATA, ec);
	return ec;
}

void
evcurl_free(struct evcurl *ec)
{
	if (ec == NULL)
		return;
	while (ec->xfers != NULL) {
		struct xfer *x = ec->xfers;
		ec->xfers = x->next;
		curl_multi_remove_handle(ec->multi, x->easy);
		free(x);
	}
	if (ec->multi != NULL)
		curl_multi_cleanup(ec->multi);
	if (ec->timer != NULL)
		event_free(ec->timer);
	free(ec);
}

int
evcurl_add(struct evcurl *ec, CURL *easy, evcurl_done_cb *cb, void *arg)
{
	struct xfer *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return -1;
	x->easy = easy;
	x->cb = cb;
	x->arg = arg;
	if (curl_multi_add_handle(ec->multi, easy) != CURLM_OK) {
		free(x);
		return -1;
	}
	x->next = ec->xfers;
	ec->xfers = x;
	/* curl calls on_timer_change from add_handle; the transfer starts
	 * from the timer callback, so cb never runs inside this call */
	return 0;
}

void
evcurl_cancel(struct evcurl *ec, CURL *easy)
{
	struct xfer *x = xfer_take(ec, easy);

	if (x == NULL)
		return;
	curl_multi_remove_handle(ec->multi, easy);
	free(x);
}

int
evcurl_running(const struct evcurl *ec)
{
	int n = 0;

	for (const struct xfer *x = ec->xfers; x != NULL; x = x->next)
		n++;
	return n;
}

size_t
evcurl_buf_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct evcurl_buf *b = userdata;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > b->max)
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	p = realloc(b->data, b->len + n + 1);
	if (p == NULL)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->data = p;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

void
evcurl_buf_reset(struct evcurl_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

// SPDX-License-Identifier: MIT
#include "labels.h"

#include <string.h>
#include <strings.h>

static const char *const methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
};

const char *label_method(const char *tok, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (tok && strlen(methods[i]) == len && memcmp(methods[i], tok, len) == 0)
			return methods[i];
	return LABEL_METHOD_OTHER;
}

static size_t put_literal(const char *s, char *out, size_t outsz)
{
	size_t n = strlen(s);

	if (outsz == 0)
		return 0;
	if (n > outsz - 1)
		n = outsz - 1;
	memcpy(out, s, n);
	out[n] = '\0';
	return n;
}

/*
 * "http://", "https://", "ws://" or "wss://" (any case): its length, or 0.
 * Other schemes (rtsp://, sip:) name nothing an HTTP server serves: such a
 * target has no route.
 */
static size_t scheme_len(const char *t, size_t n)
{
	static const char *const schemes[] = {"http://", "https://", "ws://", "wss://"};
	size_t i, k;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		k = strlen(schemes[i]);
		if (n >= k && strncasecmp(t, schemes[i], k) == 0)
			return k;
	}
	return 0;
}

/* host:port or [v6]:port, nothing else (RFC 9112 3.2.3). */
static int is_authority(const char *t, size_t n)
{
	size_t i = 0, colon;

	if (n > 0 && t[0] == '[') {
		while (i < n && t[i] != ']')
			i++;
		if (i == n)
			return 0;
		i++;
		if (i == n || t[i] != ':')
			return 0;
		colon = i;
	} else {
		const char *c = memrchr(t, ':', n);

		if (!c || c == t)
			return 0;
		colon = (size_t)(c - t);
		for (i = 0; i < colon; i++)
			if (t[i] == '/' || t[i] == '@')
				return 0;
	}
	for (i = colon + 1; i < n; i++)
		if (t[i] < '0' || t[i] > '9')
			return 0;
	return 1;
}

size_t label_route(const char *target, size_t len, uint32_t rq_flags, int fold_ids, char *out,
		   size_t outsz)
{
	size_t end, start = 0, sch;

	if (rq_flags & WT_RQ_NO_REQUEST)
		return put_literal(LABEL_ROUTE_UNKNOWN, out, outsz);
	end = target ? len : 0;
	if (end == 0)
		return put_literal(rq_flags & WT_RQ_TARGET_TRUNCATED ? LABEL_ROUTE_TRUNCATED
								 : LABEL_ROUTE_UNKNOWN,
				   out, outsz);
	if (end == 1 && target[0] == '*')
		return put_literal("*", out, outsz);
	if (target[0] != '/') {
		sch = scheme_len(target, end);
		if (!sch) {
			if (is_authority(target, end) && !(rq_flags & WT_RQ_TARGET_TRUNCATED))
				return put_literal(LABEL_ROUTE_AUTHORITY, out, outsz);
			return put_literal(rq_flags & WT_RQ_TARGET_TRUNCATED ? LABEL_ROUTE_TRUNCATED
									  : LABEL_ROUTE_UNKNOWN,
					   out, outsz);
		}
		/* Absolute-form: the path after the authority; none is "/". */
		start = sch;
		while (start < end && target[start] != '/')
			start++;
	}
	if (rq_flags & WT_RQ_TARGET_TRUNCATED)
		return put_literal(LABEL_ROUTE_TRUNCATED, out, outsz);
	if (start == end)
		return put_literal("/", out, outsz);
	return route_normalize(target + start, end - start, out, outsz, fold_ids);
}

void labels_build(const struct wt_request *rq, int fold_ids, struct wt_labels *l)
{
	l->method = rq->method && !(rq->flags & WT_RQ_NO_REQUEST) ? rq->method : LABEL_METHOD_OTHER;
	label_route(rq->path, rq->path ? rq->path_len : 0, rq->flags, fold_ids, l->route,
		    sizeof(l->route));
}
